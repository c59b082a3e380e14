/* gitml ui: one run (identity, source, params, metric charts, tags, artifacts, models, log, code). */
"use strict";

(() => {
  const {el, clear, fmt} = G;
  const REFRESH_MS = 2000;
  const FIRST_CHARTS = 24;
  const PREVIEW_CHARS = 200000;
  let runText = location.pathname.split("/")[2] || "";
  try {
    runText = decodeURIComponent(runText);
  } catch (e) {
    // keep it as written
  }
  const signatures = {};
  let detail = null;
  let showAllCharts = false;

  async function load() {
    try {
      detail = await G.api(`/api/runs/${encodeURIComponent(runText)}`);
    } catch (err) {
      if (!detail) {
        const main = clear(document.getElementById("content"));
        main.append(el("h1", {}, err.status === 404 ? "Run not found" : "Cannot show this run"),
                    G.errorBox(err.message), el("p", {}, el("a", {href: "/"}, "Back to the runs")));
        return;
      }
    }
    render();
    if (G.isLive(detail)) setTimeout(load, REFRESH_MS);
  }

  /** Build the page once, then re-render only sections whose data changed. */
  function render() {
    const main = document.getElementById("content");
    if (!main.dataset.built) {
      clear(main);
      main.dataset.built = "1";
      document.title = `${detail.name} · gitml`;
      main.append(
        el("div", {id: "sec-title"}),
        el("div", {class: "cards"},
          el("section", {class: "card", id: "sec-overview"}),
          el("section", {class: "card", id: "sec-source"}),
          el("section", {class: "card", id: "sec-params"}),
          el("section", {class: "card", id: "sec-tags"}),
          el("section", {class: "card wide", id: "sec-metrics"}),
          el("section", {class: "card wide", id: "sec-artifacts"}),
          el("section", {class: "card wide", id: "sec-models"}),
          el("section", {class: "card wide", id: "sec-log"}),
          el("section", {class: "card wide", id: "sec-code"})));
      loadCodeDiff();
    }
    const d = detail;
    section("sec-title", [d.name, d.status, d.stale, d.experiment, d.end_time, d.duration], title);
    section("sec-overview", [d.status, d.end_time, d.exit_code, d.duration, d.stale, d.children], overview);
    section("sec-source", [d.source, d.code], source);
    section("sec-params", d.params_flat, params);
    section("sec-tags", d.tags, tags);
    section("sec-metrics", [d.metrics, showAllCharts], metrics);
    section("sec-artifacts", d.artifacts, artifacts);
    section("sec-models", d.models, models);
    section("sec-log", [d.log, d.log_cut], log);
  }

  function section(id, data, build) {
    const signature = JSON.stringify(data);
    if (signatures[id] === signature) return;
    signatures[id] = signature;
    const node = clear(document.getElementById(id));
    build(node);
  }

  function title(node) {
    const d = detail;
    node.append(
      el("p", {class: "muted"}, el("a", {href: "/"}, "Runs"), " / ",
        el("a", {href: `/?experiment=${encodeURIComponent(d.experiment)}`}, d.experiment)),
      el("h1", {}, el("span", {id: "run-name"}, d.name), G.badge(d.status, d.stale)),
      el("div", {class: "ident"},
        el("span", {class: "mono", title: "run id"}, d.id),
        el("span", {}, `started ${G.fmtTime(d.start_time)}`),
        d.duration ? el("span", {}, `took ${d.duration}`) : null));
  }

  function overview(node) {
    const d = detail;
    const rows = [
      ["id", d.id],
      ["name", d.name],
      ["experiment", d.experiment],
      ["status", d.status + (d.stale ? " (its process is gone)" : "")],
      ["started", G.fmtTime(d.start_time)],
      ["ended", G.fmtTime(d.end_time)],
      ["duration", d.duration],
      ["user", d.user],
      ["host", d.host],
      ["command", d.command ? d.command.join(" ") : null],
      ["exit code", d.exit_code],
      ["description", d.description],
      ["revision", d.revision],
      ["commit", d.commit],
    ].filter(([, v]) => v !== null && v !== undefined && v !== "");
    node.append(el("h2", {}, "Run"), G.kvTable(rows, ""));
    if (d.parent_run) {
      node.append(el("p", {}, "Parent run: ", el("a", {href: G.runUrl(d.parent_run)}, G.shortId(d.parent_run))));
    }
    const children = d.children || [];
    if (children.length) {
      node.append(el("h3", {}, `Child runs (${children.length})`),
        el("table", {class: "grid", id: "children"},
          el("tbody", {}, children.map((c) => el("tr", {dataset: {runId: c.run_id}},
            el("td", {}, el("a", {href: G.runUrl(c.run_id)}, c.name || G.shortId(c.run_id))),
            el("td", {}, G.badge(c.status, c.stale)),
            el("td", {class: "muted"}, G.fmtTime(c.start_time)))))));
    }
  }

  function source(node) {
    const s = detail.source || {};
    const rows = [
      ["baseline commit", s.commit || "none (unborn branch)"],
      ["branch", s.branch],
      ["workspace", s.dirty ? "dirty (differs from the baseline)" : "clean"],
      ["remote", s.remote_url],
      ["code snapshot", detail.code],
    ].filter(([, v]) => v !== null && v !== undefined);
    node.append(el("h2", {}, "Source"), G.kvTable(rows, ""));
    if (s.skipped && s.skipped.length) {
      node.append(el("p", {class: "muted"}, `Not in the snapshot (too large): ${s.skipped.join(", ")}`));
    }
    const env = detail.environment;
    if (env && env.python) {
      node.append(el("p", {class: "muted"}, `Python ${env.python} on ${env.platform || "?"}`));
    }
  }

  function params(node) {
    const entries = Object.entries(detail.params_flat || {}).sort(([a], [b]) => a.localeCompare(b));
    node.append(el("h2", {}, `Params (${entries.length})`), G.kvTable(entries, "No params."));
    node.querySelector("table")?.setAttribute("id", "params");
  }

  function tags(node) {
    const entries = Object.entries(detail.tags || {}).sort(([a], [b]) => a.localeCompare(b));
    node.append(el("h2", {}, `Tags (${entries.length})`), G.kvTable(entries, "No tags."));
  }

  function metrics(node) {
    const keys = Object.keys(detail.metrics || {}).sort();
    node.append(el("h2", {}, `Metrics (${keys.length})`));
    if (!keys.length) {
      node.append(el("p", {class: "muted", id: "no-metrics"}, "This run has no metrics."));
      return;
    }
    node.append(el("table", {class: "grid", id: "metrics"},
      el("thead", {}, el("tr", {}, ["metric", "last", "step", "min", "max", "points"].map((h, i) =>
        el("th", {class: i ? "num" : ""}, h)))),
      el("tbody", {}, keys.map((k) => {
        const m = detail.metrics[k];
        return el("tr", {dataset: {key: k}}, el("td", {}, k),
          [m.last, m.step, m.min, m.max, m.count].map((v) => el("td", {class: "num", title: G.exact(v)}, fmt(v))));
      }))));
    const grid = el("div", {class: "charts"});
    node.append(grid);
    const shown = showAllCharts ? keys : keys.slice(0, FIRST_CHARTS);
    for (const key of shown) {
      const box = el("div", {class: "chart", dataset: {metric: key}});
      grid.append(el("div", {class: "chart-box"}, el("h3", {}, key), box));
      drawHistory(key, box);
    }
    if (shown.length < keys.length) {
      node.append(el("button", {type: "button", onclick: () => { showAllCharts = true; render(); }},
        `Show all ${keys.length} charts`));
    }
  }

  async function drawHistory(key, box) {
    try {
      const h = await G.api(`/api/runs/${encodeURIComponent(detail.id)}/metric`,
                            {key, max_points: G.MAX_POINTS});
      const {xs, label} = G.historyXs(h);
      G.chart(box, {xs, xLabel: label, series: [{label: key, values: h.values, count: h.count}]});
      box.dataset.sampled = String(h.sampled);
      if (h.sampled < h.count) {
        box.after(el("p", {class: "muted sampled"},
          `${h.count.toLocaleString()} points; the lowest and highest of each stretch drawn`));
      }
      box.dataset.ready = "1";
    } catch (err) {
      clear(box).append(el("p", {class: "muted"}, err.message));
    }
  }

  function artifacts(node) {
    const files = detail.artifacts || [];
    node.append(el("h2", {}, `Artifacts (${files.length})`));
    if (!files.length) {
      node.append(el("p", {class: "muted"}, "No artifacts."));
      return;
    }
    const list = el("div", {id: "artifacts"});
    node.append(list);
    for (const f of files) {
      const view = G.fileUrl(detail.id, "artifacts", f.path, false);
      const download = G.fileUrl(detail.id, "artifacts", f.path, true);
      const item = el("div", {class: "artifact", dataset: {path: f.path, kind: f.kind}});
      const preview = el("div", {class: "preview"});
      const name = el("div", {class: "name"},
        el("span", {class: "mono"}, f.path),
        el("span", {class: "muted"}, G.fmtSize(f.size) + (f.lfs ? " · LFS" : "")),
        el("a", {href: download}, "download"));
      item.append(name, preview);
      list.append(item);
      if (f.kind === "image") {
        preview.append(el("img", {src: view, alt: f.path, loading: "lazy"}));
      } else if (f.kind === "text") {
        const toggle = el("a", {href: "#", onclick: (e) => {
          e.preventDefault();
          if (preview.firstChild) { clear(preview); toggle.textContent = "show"; return; }
          toggle.textContent = "hide";
          showText(view, f.path, preview);
        }}, "show");
        name.insertBefore(toggle, name.lastChild);
        if (files.length <= 6 && f.size < 20000) toggle.click();
      }
    }
  }

  async function showText(url, path, preview) {
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error((await response.json()).message);
      let text = await response.text();
      if (/\.json$/i.test(path)) {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch (e) { /* shown as it is */ }
        if (isTable(parsed)) {  // log_table's JSON: shown as a table
          preview.append(tableView(parsed));
          return;
        }
        if (parsed !== null) text = JSON.stringify(parsed, null, 2);
      }
      const cut = text.length > PREVIEW_CHARS;
      preview.append(el("pre", {}, cut ? text.slice(0, PREVIEW_CHARS) : text));
      if (cut) preview.append(el("p", {class: "muted"}, "(cut: download the file to see all of it)"));
    } catch (err) {
      preview.append(el("p", {class: "muted"}, `Cannot show the file: ${err.message}`));
    }
  }

  const TABLE_ROWS = 200;

  function isTable(value) {
    return value !== null && typeof value === "object" && Array.isArray(value.columns)
      && Array.isArray(value.data) && value.data.every((row) => Array.isArray(row));
  }

  function tableView(table) {
    const rows = table.data.slice(0, TABLE_ROWS);
    return el("div", {class: "logged-table"},
      el("table", {class: "grid"},
        el("thead", {}, el("tr", {}, table.columns.map((c) => el("th", {}, String(c))))),
        el("tbody", {}, rows.map((row) => el("tr", {}, row.map((v) =>
          el("td", {class: typeof v === "number" ? "num" : ""}, v === null ? "—" : fmt(v))))))),
      table.data.length > TABLE_ROWS
        ? el("p", {class: "muted"}, `first ${TABLE_ROWS} of ${table.data.length} rows`) : null);
  }

  function schemaTable(title, schema) {
    if (!schema) return null;
    const cols = Array.isArray(schema) ? schema : [schema];
    return el("div", {},
      el("h4", {}, title),
      el("table", {class: "grid signature"},
        el("thead", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "type"), el("th", {}, "details"))),
        el("tbody", {}, cols.map((c) => {
          const spec = c["tensor-spec"];
          const details = spec ? `dtype ${spec.dtype}, shape ${JSON.stringify(spec.shape)}`
            : [c.required === false ? "optional" : null, c.default !== undefined ? `default ${fmt(c.default)}` : null,
               c.shape ? `shape ${JSON.stringify(c.shape)}` : null].filter(Boolean).join(", ");
          return el("tr", {}, el("td", {}, c.name ?? "—"), el("td", {class: "mono"}, c.type ?? "—"), el("td", {}, details));
        }))));
  }

  function models(node) {
    const list = detail.models || [];
    node.hidden = !list.length;
    if (!list.length) return;
    node.append(el("h2", {}, `Models (${list.length})`));
    for (const m of list) {
      const sig = m.signature;
      node.append(el("div", {class: "model", dataset: {model: m.name}},
        el("div", {class: "name"}, el("strong", {}, m.name), " ",
          m.flavors.map((f) => el("span", {class: "tag"}, f)), " ",
          el("code", {}, m.uri), " ",
          el("a", {href: G.fileUrl(detail.id, "models", `${m.name}/MLmodel`, false)}, "MLmodel")),
        m.created ? el("p", {class: "muted"}, `created ${m.created}`) : null,
        (m.registered || []).length ? el("p", {class: "registered"}, "Registered as ",
          m.registered.map((r, i) => [i ? ", " : "",
            el("a", {href: `/models?name=${encodeURIComponent(r.name)}`}, `${r.name} v${r.version}`),
            r.aliases.map((a) => [" ", el("span", {class: "badge alias"}, `@${a}`)])])) : null,
        sig ? [schemaTable("Inputs", sig.inputs), schemaTable("Outputs", sig.outputs), schemaTable("Params", sig.params)]
          : el("p", {class: "muted"}, "No signature.")));
    }
  }

  function log(node) {
    node.append(el("h2", {}, "Output log"));
    if (detail.log === null || detail.log === undefined) {
      node.append(el("p", {class: "muted"}, "No output log (the run was not started by gitml run)."));
      return;
    }
    if (detail.log_cut) {
      node.append(el("p", {class: "muted"}, `Last lines only: `,
        el("a", {href: `/api/runs/${encodeURIComponent(detail.id)}/log`}, "whole log")));
    }
    const pre = el("pre", {id: "log"}, detail.log || "(empty)");
    node.append(pre);
    pre.scrollTop = pre.scrollHeight;
  }

  async function loadCodeDiff() {
    const node = document.getElementById("sec-code");
    node.append(el("h2", {}, "Code vs baseline"), el("p", {class: "muted"}, "Loading…"));
    try {
      const code = await G.api(`/api/runs/${encodeURIComponent(runText)}/code-diff`);
      clear(node).append(el("h2", {}, "Code vs baseline"));
      if (code.baseline) {
        node.append(el("p", {class: "muted"}, "Baseline ", el("code", {}, code.baseline.slice(0, 10)),
          code.dirty ? " · the workspace was dirty when the run started" : " · clean workspace"));
      }
      for (const note of code.notes) node.append(el("p", {class: "muted"}, note));
      node.append(G.codeDiffView(code, "The code is exactly the baseline commit's."));
    } catch (err) {
      clear(node).append(el("h2", {}, "Code vs baseline"), G.errorBox(err.message));
    }
  }

  G.header();
  load();
})();
