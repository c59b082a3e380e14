/* gitml ui: the runs table (experiments, filter, sort, columns, paging, selection, live status). */
"use strict";

(() => {
  const {el, clear, fmt, exact} = G;
  const COLUMNS_KEY = "gitml.ui.columns";
  const SELECTED_KEY = "gitml.ui.selected";
  const DEFAULT_PER_GROUP = 12;
  const REFRESH_MS = 2000;
  const BASE = [
    {id: "name", title: "Name", sort: "run_name"},
    {id: "status", title: "Status", sort: "status"},
    {id: "experiment", title: "Experiment", sort: "experiment"},
    {id: "start", title: "Started", sort: "start_time"},
    {id: "duration", title: "Duration", sort: "duration", num: true},
    {id: "baseline", title: "Baseline", sort: "baseline"},
  ];
  const GROUPS = ["params", "metrics", "tags"];

  const state = readUrl();
  let data = null;
  let timer = null;
  let loading = 0;
  const selected = new Set(JSON.parse(sessionStorage.getItem(SELECTED_KEY) || "[]"));

  const $ = (id) => document.getElementById(id);

  function readUrl() {
    const q = new URLSearchParams(location.search);
    const sort = q.get("sort");
    return {
      experiment: q.get("experiment") || "",
      filter: q.get("filter") || "",
      sort: sort ? {field: sort.replace(/ DESC$/i, ""), desc: / DESC$/i.test(sort)} : null,
      page: Math.max(0, parseInt(q.get("page") || "1", 10) - 1) || 0,
      size: parseInt(q.get("size") || localStorage.getItem("gitml.ui.size") || "100", 10) || 100,
      deleted: q.get("deleted") === "1",
    };
  }

  function writeUrl() {
    const q = new URLSearchParams();
    if (state.experiment) q.set("experiment", state.experiment);
    if (state.filter) q.set("filter", state.filter);
    if (state.sort) q.set("sort", sortClause());
    if (state.page) q.set("page", String(state.page + 1));
    if (state.size !== 100) q.set("size", String(state.size));
    if (state.deleted) q.set("deleted", "1");
    const text = q.toString();
    history.replaceState(null, "", text ? `?${text}` : location.pathname);
  }

  function sortClause() {
    return state.sort ? `${state.sort.field}${state.sort.desc ? " DESC" : ""}` : null;
  }

  /** The sort field of a data column: entity.`key` (backquoted, so any key parses). */
  function fieldOf(entity, key) {
    return `${entity}.\`${key.replace(/`/g, "``")}\``;
  }

  // ---------------------------------------------------------------- columns

  function columnPrefs() {
    try {
      const prefs = JSON.parse(localStorage.getItem(COLUMNS_KEY) || "{}");
      return {shown: new Set(prefs.shown || []), hidden: new Set(prefs.hidden || [])};
    } catch (e) {
      return {shown: new Set(), hidden: new Set()};
    }
  }

  function saveColumnPrefs(prefs) {
    localStorage.setItem(COLUMNS_KEY, JSON.stringify({shown: [...prefs.shown], hidden: [...prefs.hidden]}));
  }

  function visibleColumns(columns) {
    const prefs = columnPrefs();
    const out = [];
    for (const entity of GROUPS) {
      (columns[entity] || []).forEach((key, i) => {
        const name = `${entity}.${key}`;
        const byDefault = entity !== "tags" && i < DEFAULT_PER_GROUP;
        if (prefs.shown.has(name) || (byDefault && !prefs.hidden.has(name))) out.push({entity, key, name});
      });
    }
    return out;
  }

  function renderColumnsPanel() {
    const panel = clear($("columns-panel"));
    if (!data) return;
    const visible = new Set(visibleColumns(data.columns).map((c) => c.name));
    const prefs = columnPrefs();
    const set = (name, on) => {
      prefs.shown.delete(name); prefs.hidden.delete(name);
      (on ? prefs.shown : prefs.hidden).add(name);
    };
    const all = GROUPS.flatMap((g) => (data.columns[g] || []).map((k) => `${g}.${k}`));
    panel.append(el("div", {class: "actions"},
      el("button", {type: "button", onclick: () => { all.forEach((n) => set(n, true)); saveColumnPrefs(prefs); render(); renderColumnsPanel(); }}, "All"),
      el("button", {type: "button", onclick: () => { all.forEach((n) => set(n, false)); saveColumnPrefs(prefs); render(); renderColumnsPanel(); }}, "None"),
      el("button", {type: "button", onclick: () => { localStorage.removeItem(COLUMNS_KEY); render(); renderColumnsPanel(); }}, "Default")));
    for (const entity of GROUPS) {
      const keys = data.columns[entity] || [];
      if (!keys.length) continue;
      panel.append(el("h3", {}, entity));
      for (const key of keys) {
        const name = `${entity}.${key}`;
        const box = el("input", {type: "checkbox", checked: visible.has(name), dataset: {column: name},
          onchange: (e) => { set(name, e.target.checked); saveColumnPrefs(prefs); render(); }});
        panel.append(el("label", {}, box, " ", key));
      }
    }
    if (!all.length) panel.append(el("p", {class: "muted"}, "No params, metrics or tags yet."));
  }

  // ---------------------------------------------------------------- loading

  async function load(quiet) {
    clearTimeout(timer);
    const ticket = ++loading;
    writeUrl();
    try {
      const result = await G.api("/api/runs", {
        experiment: state.experiment, filter: state.filter, sort: sortClause(),
        offset: state.page * state.size, limit: state.size, deleted: state.deleted ? "1" : "",
      });
      if (ticket !== loading) return;
      if (result.total && state.page * state.size >= result.total) {
        state.page = Math.floor((result.total - 1) / state.size);
        return load(quiet);
      }
      data = result;
      showFilterError(null);
      renderExperiments();
      render();
      if (!$("columns-panel").hidden) renderColumnsPanel();
    } catch (err) {
      if (ticket !== loading) return;
      if (err.code === "INVALID_FILTER" || err.code === "BAD_REQUEST") showFilterError(err.message);
      else if (!quiet) clear($("content")).append(G.errorBox(`Cannot load the runs: ${err.message}`));
    }
    if (data && data.runs.some(G.isLive)) timer = setTimeout(() => load(true), REFRESH_MS);
  }

  function showFilterError(message) {
    const box = $("filter-error");
    box.hidden = !message;
    box.textContent = message || "";
    $("filter").classList.toggle("invalid", !!message);
  }

  function renderExperiments() {
    const select = $("experiment");
    const names = data.experiments.map((e) => e.name);
    if (state.experiment && !names.includes(state.experiment)) names.push(state.experiment);
    const current = [...select.options].slice(1).map((o) => o.value + o.textContent).join("|");
    const total = data.experiments.reduce((n, e) => n + e.runs, 0);
    const wanted = data.experiments.map((e) => e.name + `${e.name} (${e.runs})`).join("|");
    if (current !== wanted || select.options[0].textContent !== `All experiments (${total})`) {
      clear(select).append(el("option", {value: ""}, `All experiments (${total})`));
      for (const e of data.experiments) select.append(el("option", {value: e.name}, `${e.name} (${e.runs})`));
    }
    select.value = state.experiment;
  }

  // ---------------------------------------------------------------- table

  function render() {
    const content = clear($("content"));
    updateCompare();
    if (!data) return;
    const pager = $("pager");
    if (!data.total) {
      pager.hidden = true;
      const noRunsAtAll = !data.experiments.length;
      content.append(noRunsAtAll
        ? el("div", {class: "empty", id: "empty"},
            el("p", {}, el("strong", {}, "No runs in this repository yet.")),
            el("p", {}, "Record one with ", el("code", {}, "gitml run -- python train.py"),
              " or ", el("code", {}, "with gitml.start_run(): ...")))
        : el("div", {class: "empty", id: "empty"}, "No run matches the filter or experiment."));
      return;
    }
    const columns = visibleColumns(data.columns);
    content.append(el("div", {class: "table-wrap"}, table(columns)));
    if (!performance.getEntriesByName("gitml:rows").length) performance.mark("gitml:rows");
    pager.hidden = false;
    const first = data.offset + 1;
    const last = data.offset + data.runs.length;
    $("page-info").textContent = `${first}–${last} of ${data.total} run${data.total === 1 ? "" : "s"}`;
    $("prev").disabled = data.offset === 0;
    $("next").disabled = last >= data.total;
  }

  function sortArrow(field) {
    if (!state.sort || state.sort.field !== field) return null;
    return el("span", {class: "arrow"}, state.sort.desc ? "▼" : "▲");
  }

  function header(title, field, extra) {
    return el("th", {class: extra || "", dataset: {sort: field}, title: `Sort by ${field}`,
                     onclick: () => toggleSort(field)}, title, sortArrow(field));
  }

  function table(columns) {
    const pageIds = data.runs.map((r) => r.run_id);
    const allBox = el("input", {type: "checkbox", "aria-label": "Select all runs of this page",
      checked: pageIds.length > 0 && pageIds.every((id) => selected.has(id)),
      onchange: (e) => {
        pageIds.forEach((id) => (e.target.checked ? selected.add(id) : selected.delete(id)));
        saveSelected(); render();
      }});
    const groups = el("tr", {class: "groups"}, el("th", {class: "nosort", colspan: BASE.length + 1}, "Run"));
    for (const entity of GROUPS) {
      const n = columns.filter((c) => c.entity === entity).length;
      if (n) groups.append(el("th", {class: `nosort col-first-${entity}`, colspan: n}, entity));
    }
    const heads = el("tr", {class: "cols"}, el("th", {class: "sel nosort"}, allBox),
      BASE.map((c) => header(c.title, c.sort, c.num ? "num" : "")));
    let previous = null;
    for (const c of columns) {
      const first = c.entity !== previous ? ` col-first-${c.entity}` : "";
      previous = c.entity;
      heads.append(header(c.key, fieldOf(c.entity, c.key), `col-${c.entity}${first}`));
    }
    const body = el("tbody", {}, data.runs.map((run) => row(run, columns)));
    return el("table", {class: "runs", id: "runs"}, el("thead", {}, groups, heads), body);
  }

  function row(run, columns) {
    const isSelected = selected.has(run.run_id);
    const box = el("input", {type: "checkbox", checked: isSelected, "aria-label": `Select ${run.name}`,
      onchange: (e) => {
        e.target.checked ? selected.add(run.run_id) : selected.delete(run.run_id);
        e.target.closest("tr").classList.toggle("selected", e.target.checked);
        saveSelected(); updateCompare();
      }});
    const base = run.baseline || {};
    const tr = el("tr", {class: isSelected ? "selected" : "", dataset: {runId: run.run_id, status: run.status}},
      el("td", {class: "sel"}, box),
      el("td", {title: run.run_id},
        run.parent_run ? el("a", {class: "child-of", href: G.runUrl(run.parent_run),
                                  title: `child of run ${run.parent_run}`}, "↳") : null,
        el("a", {href: G.runUrl(run.run_id)}, run.name || G.shortId(run.run_id)),
        el("span", {class: "sub"}, G.shortId(run.run_id)),
        run.lifecycle === "deleted" ? el("span", {class: "badge status-killed"}, "deleted") : null),
      el("td", {}, G.badge(run.status, run.stale)),
      el("td", {}, run.experiment),
      el("td", {title: run.start_time || ""}, G.fmtTime(run.start_time)),
      el("td", {class: "num"}, G.fmtDuration(G.runSeconds(run))),
      el("td", {class: "mono", title: `${base.commit || "no baseline"}${base.branch ? ` on ${base.branch}` : ""}${base.dirty ? " (dirty workspace)" : ""}`},
        base.commit ? base.commit.slice(0, 7) + (base.dirty ? "*" : "") : "—"));
    let previous = null;
    for (const c of columns) {
      const value = (run[c.entity] || {})[c.key];
      const numeric = typeof value === "number" || value === "NaN" || /Infinity$/.test(value);
      const first = c.entity !== previous ? ` col-first-${c.entity}` : "";
      previous = c.entity;
      tr.append(el("td", {class: `col-${c.entity}${first}${numeric ? " num" : ""}`, title: exact(value),
                          dataset: {column: `${c.entity}.${c.key}`}}, fmt(value)));
    }
    return tr;
  }

  function toggleSort(field) {
    if (state.sort && state.sort.field === field) {
      if (state.sort.desc) state.sort = {field, desc: false};
      else state.sort = null;
    } else {
      state.sort = {field, desc: true};
    }
    state.page = 0;
    load();
  }

  function saveSelected() {
    sessionStorage.setItem(SELECTED_KEY, JSON.stringify([...selected]));
  }

  function updateCompare() {
    const button = $("compare");
    button.textContent = selected.size ? `Compare (${selected.size})` : "Compare";
    button.disabled = selected.size < 2;
    button.title = selected.size < 2 ? "Select two or more runs to compare them" : "";
  }

  // ---------------------------------------------------------------- events

  function init() {
    G.header("runs");
    $("filter").value = state.filter;
    $("deleted").checked = state.deleted;
    $("page-size").value = String(state.size);
    $("filter-form").addEventListener("submit", (e) => {
      e.preventDefault();
      state.filter = $("filter").value.trim();
      state.page = 0;
      load();
    });
    $("filter").addEventListener("search", () => {  // the clear button of a search box
      if (!$("filter").value && state.filter) { state.filter = ""; state.page = 0; load(); }
    });
    $("experiment").addEventListener("change", (e) => { state.experiment = e.target.value; state.page = 0; load(); });
    $("deleted").addEventListener("change", (e) => { state.deleted = e.target.checked; state.page = 0; load(); });
    $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); load(); });
    $("next").addEventListener("click", () => { state.page += 1; load(); });
    $("page-size").addEventListener("change", (e) => {
      state.size = parseInt(e.target.value, 10);
      localStorage.setItem("gitml.ui.size", String(state.size));
      state.page = 0;
      load();
    });
    $("compare").addEventListener("click", () => {
      if (selected.size >= 2) location.href = `/compare?runs=${[...selected].map(encodeURIComponent).join(",")}`;
    });
    const panel = $("columns-panel");
    $("columns-button").addEventListener("click", (e) => {
      e.stopPropagation();
      panel.hidden = !panel.hidden;
      $("columns-button").setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) renderColumnsPanel();
    });
    document.addEventListener("click", (e) => {
      if (!panel.hidden && !panel.contains(e.target) && e.target !== $("columns-button")) panel.hidden = true;
    });
    updateCompare();
    load();
  }

  init();
})();
