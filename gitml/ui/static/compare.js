/* gitml ui: two or more runs side by side (params, metrics, tags, overlaid curves, code diff). */
"use strict";

(() => {
  const {el, clear, fmt} = G;
  const query = new URLSearchParams(location.search);
  const texts = query.getAll("runs").join(",").split(",").map((t) => t.trim()).filter(Boolean);
  const histories = new Map();
  const state = {
    onlyChanged: query.get("changed") === "1",
    metric: query.get("metric") || "",
    log: query.get("log") === "1",
    smoothing: parseFloat(query.get("smoothing") || "0") || 0,
    x: query.get("x") || "",
    y: query.get("y") || "",
  };
  let cmp = null;

  function writeUrl() {
    const q = new URLSearchParams();
    q.set("runs", texts.join(","));
    if (state.onlyChanged) q.set("changed", "1");
    if (state.metric) q.set("metric", state.metric);
    if (state.log) q.set("log", "1");
    if (state.smoothing) q.set("smoothing", String(state.smoothing));
    if (state.x) q.set("x", state.x);
    if (state.y) q.set("y", state.y);
    history.replaceState(null, "", `?${q.toString().replace(/%2C/g, ",")}`);
  }

  async function load() {
    const main = document.getElementById("content");
    try {
      cmp = await G.api("/api/compare", {runs: texts.join(",")});
    } catch (err) {
      clear(main).append(el("h1", {}, "Compare runs"), G.errorBox(err.message),
        el("p", {}, el("a", {href: "/"}, "Back to the runs"), " and select two or more runs."));
      return;
    }
    document.title = `Compare ${cmp.runs.length} runs · gitml`;
    if (!cmp.metric_keys.includes(state.metric)) state.metric = cmp.metric_keys[0] || "";
    render(main);
  }

  function render(main) {
    clear(main);
    main.append(
      el("p", {class: "muted"}, el("a", {href: "/"}, "Runs"), " / compare"),
      el("h1", {}, `Compare ${cmp.runs.length} runs`),
      el("div", {class: "controls"},
        el("label", {}, el("input", {type: "checkbox", id: "only-changed", checked: state.onlyChanged,
          onchange: (e) => { state.onlyChanged = e.target.checked; writeUrl(); renderTables(); }}),
          "Only changed")),
      el("div", {class: "cards"},
        el("section", {class: "card wide", id: "sec-values"}),
        el("section", {class: "card wide", id: "sec-chart"}),
        el("section", {class: "card wide", id: "sec-scatter"}),
        el("section", {class: "card wide", id: "sec-code"})));
    renderTables();
    renderChartControls();
    renderScatter();
    renderCodeControls();
    writeUrl();
  }

  // ---------------------------------------------------------------- side by side

  function runHeader() {
    return el("tr", {}, el("th", {}, ""), cmp.runs.map((r, i) =>
      el("th", {dataset: {runId: r.run_id}},
        el("span", {style: `color:${G.PALETTE[i % G.PALETTE.length]}`}, "■ "),
        el("a", {href: G.runUrl(r.run_id)}, r.name || G.shortId(r.run_id)))));
  }

  function identityRows() {
    const rows = [
      ["id", (r) => el("span", {class: "mono"}, G.shortId(r.run_id))],
      ["status", (r) => G.badge(r.status, r.stale)],
      ["experiment", (r) => r.experiment],
      ["started", (r) => G.fmtTime(r.start_time)],
      ["duration", (r) => G.fmtDuration(G.runSeconds(r))],
      ["baseline", (r) => el("span", {class: "mono"}, r.baseline.commit ? r.baseline.commit.slice(0, 7) + (r.baseline.dirty ? "*" : "") : "—")],
    ];
    return rows.map(([name, cell]) => el("tr", {}, el("th", {}, name), cmp.runs.map((r) => el("td", {}, cell(r)))));
  }

  function valueRows(entity, rows) {
    const shown = state.onlyChanged ? rows.filter((r) => r.changed) : rows;
    const out = [el("tr", {class: "group"}, el("th", {colspan: cmp.runs.length + 1},
      `${entity} (${shown.length}${state.onlyChanged ? ` changed of ${rows.length}` : ""})`))];
    if (!shown.length) {
      out.push(el("tr", {}, el("td", {class: "muted", colspan: cmp.runs.length + 1},
        rows.length ? `No ${entity} differ.` : `No ${entity}.`)));
    }
    for (const row of shown) {
      const first = JSON.stringify(row.values[0]);
      out.push(el("tr", {class: row.changed ? "changed" : "", dataset: {entity, key: row.key}},
        el("th", {}, row.key),
        row.values.map((v, i) => {
          const differs = row.changed && (!row.present[i] || !row.present[0] || JSON.stringify(v) !== first);
          return row.present[i]
            ? el("td", {class: `${typeof v === "number" ? "num" : ""}${differs ? " differs" : ""}`, title: G.exact(v)}, fmt(v))
            : el("td", {class: `missing${differs ? " differs" : ""}`}, "—");
        })));
    }
    return out;
  }

  function renderTables() {
    const node = clear(document.getElementById("sec-values"));
    node.append(el("table", {class: "grid compare", id: "compare-table"},
      el("thead", {}, runHeader()),
      el("tbody", {}, identityRows()),
      el("tbody", {id: "params"}, valueRows("params", cmp.params)),
      el("tbody", {id: "metrics"}, valueRows("metrics", cmp.metrics)),
      el("tbody", {id: "tags"}, valueRows("tags", cmp.tags))));
  }

  // ---------------------------------------------------------------- curves

  function renderChartControls() {
    const node = clear(document.getElementById("sec-chart"));
    node.append(el("h2", {}, "Metric curves"));
    if (!cmp.metric_keys.length) {
      node.append(el("p", {class: "muted", id: "no-metrics"}, "None of these runs has metrics."));
      return;
    }
    const select = el("select", {id: "metric", onchange: (e) => { state.metric = e.target.value; writeUrl(); draw(); }},
      cmp.metric_keys.map((k) => el("option", {value: k, selected: k === state.metric}, k)));
    const output = el("output", {id: "smoothing-value"}, state.smoothing.toFixed(2));
    node.append(el("div", {class: "controls"},
      el("label", {}, "Metric ", select),
      el("label", {}, el("input", {type: "checkbox", id: "log-scale", checked: state.log,
        onchange: (e) => { state.log = e.target.checked; writeUrl(); draw(); }}), "Log scale"),
      el("label", {}, "Smoothing ", el("input", {type: "range", id: "smoothing", min: "0", max: "0.99",
        step: "0.01", value: String(state.smoothing),
        oninput: (e) => { state.smoothing = parseFloat(e.target.value); output.textContent = state.smoothing.toFixed(2); draw(); },
        onchange: () => writeUrl()}), output)),
      el("div", {class: "chart", id: "compare-chart"}),
      el("p", {class: "muted", id: "chart-note"}));
    draw();
  }

  // ---------------------------------------------------------------- scatter

  /** Rows (params or metrics) whose present values are all numbers, as "entity.key". */
  function numericRows(rows, entity) {
    return (rows || []).filter((r) => r.present.filter(Boolean).length >= 1
      && r.values.every((v, i) => !r.present[i] || typeof v === "number"))
      .map((r) => ({name: `${entity}.${r.key}`, row: r}));
  }

  function renderScatter() {
    const node = clear(document.getElementById("sec-scatter"));
    node.append(el("h2", {}, "Scatter: one point per run"));
    const xs = numericRows(cmp.params, "params").concat(numericRows(cmp.metrics, "metrics"));
    const ys = numericRows(cmp.metrics, "metrics");
    if (!xs.length || !ys.length) {
      node.append(el("p", {class: "muted", id: "no-scatter"}, "No numeric param or metric to plot against a metric."));
      return;
    }
    const names = (list) => list.map((c) => c.name);
    if (!names(xs).includes(state.x)) state.x = (xs.find((c) => c.row.changed) || xs[0]).name;
    if (!names(ys).includes(state.y)) {
      state.y = names(ys).includes(`metrics.${state.metric}`) ? `metrics.${state.metric}` : ys[0].name;
    }
    const pick = (id, list, key) => el("select", {id, onchange: (e) => { state[key] = e.target.value; writeUrl(); drawScatter(xs, ys); }},
      list.map((c) => el("option", {value: c.name, selected: c.name === state[key]}, c.name)));
    node.append(el("div", {class: "controls"},
        el("label", {}, "x ", pick("scatter-x", xs, "x")), el("label", {}, "y ", pick("scatter-y", ys, "y"))),
      el("div", {class: "chart", id: "scatter-chart"}),
      el("p", {class: "muted", id: "scatter-note"}));
    drawScatter(xs, ys);
  }

  function drawScatter(xs, ys) {
    const box = document.getElementById("scatter-chart");
    const xr = xs.find((c) => c.name === state.x).row;
    const yr = ys.find((c) => c.name === state.y).row;
    const points = cmp.runs.map((r, i) => ({run: r, x: xr.values[i], y: yr.values[i], ok: xr.present[i] && yr.present[i]}))
      .filter((p) => p.ok && typeof p.x === "number" && typeof p.y === "number")
      .sort((a, b) => a.x - b.x);
    G.chart(box, {xs: points.map((p) => p.x), xLabel: state.x, scatter: true, height: 280,
                  series: [{label: state.y, values: points.map((p) => p.y)}]});
    box.dataset.ready = "1";
    const left = cmp.runs.length - points.length;
    const each = points.map((p) => `${p.run.name || G.shortId(p.run.run_id)} (${fmt(p.x)}, ${fmt(p.y)})`);
    document.getElementById("scatter-note").textContent =
      each.join(" · ") + (left ? ` — ${left} run(s) without both values are not shown` : "");
  }

  function fetchHistory(runId, key) {
    const id = `${runId}\n${key}`;
    if (!histories.has(id)) {
      histories.set(id, G.api(`/api/runs/${encodeURIComponent(runId)}/metric`,
                              {key, max_points: G.MAX_POINTS}));
    }
    return histories.get(id);
  }

  /** One point per step (the last logged), steps ascending: what uPlot.join needs. */
  function perStep(h) {
    const byStep = new Map();
    h.steps.forEach((s, i) => byStep.set(s, h.values[i]));
    const xs = [...byStep.keys()].sort((a, b) => a - b);
    return [xs, xs.map((s) => byStep.get(s))];
  }

  async function draw() {
    const box = document.getElementById("compare-chart");
    const key = state.metric;
    const row = cmp.metrics.find((r) => r.key === key);
    const having = cmp.runs.map((r, i) => ({run: r, index: i})).filter(({index}) => row && row.present[index]);
    const loaded = await Promise.all(having.map(({run}) => fetchHistory(run.run_id, key).catch(() => null)));
    if (key !== state.metric) return;  // another metric was chosen meanwhile
    const tables = [];
    const series = [];
    loaded.forEach((h, j) => {
      if (!h) return;
      const {run, index} = having[j];
      tables.push(perStep(h));
      series.push({label: run.name || G.shortId(run.run_id), count: h.count,
                   color: G.PALETTE[index % G.PALETTE.length]});
    });
    const missing = cmp.runs.filter((r, i) => !(row && row.present[i])).map((r) => r.name);
    document.getElementById("chart-note").textContent =
      missing.length ? `Not logged by: ${missing.join(", ")}` : "";
    if (!tables.length) {
      clear(box).append(el("p", {class: "muted"}, "No history to draw."));
      return;
    }
    const joined = tables.length === 1 ? tables[0] : uPlot.join(tables);
    series.forEach((s, i) => { s.values = joined[i + 1]; });
    G.chart(box, {xs: joined[0], xLabel: "step", series, log: state.log, smoothing: state.smoothing,
                  height: 320, legend: true});
    box.dataset.metric = key;
    box.dataset.ready = "1";
  }

  // ---------------------------------------------------------------- code

  function renderCodeControls() {
    const node = clear(document.getElementById("sec-code"));
    const options = (selectedIndex) => cmp.runs.map((r, i) =>
      el("option", {value: r.run_id, selected: i === selectedIndex}, r.name || G.shortId(r.run_id)));
    const a = el("select", {id: "code-a", onchange: () => loadDiff()}, options(0));
    const b = el("select", {id: "code-b", onchange: () => loadDiff()}, options(1));
    node.append(el("h2", {}, "Code"),
      el("div", {class: "controls"}, el("label", {}, "From ", a), el("label", {}, "to ", b)),
      el("div", {id: "code-diff"}));
    loadDiff();
  }

  async function loadDiff() {
    const a = document.getElementById("code-a").value;
    const b = document.getElementById("code-b").value;
    const out = clear(document.getElementById("code-diff"));
    if (a === b) {
      out.append(el("p", {class: "muted"}, "Pick two different runs."));
      return;
    }
    out.append(el("p", {class: "muted"}, "Loading…"));
    try {
      const d = await G.api("/api/diff", {a, b});
      if (document.getElementById("code-a").value !== a || document.getElementById("code-b").value !== b) return;
      clear(out);
      for (const note of d.notes) out.append(el("p", {class: "muted"}, note));
      out.append(G.codeDiffView(d.code, "Both runs ran the same code."));
    } catch (err) {
      clear(out).append(G.errorBox(err.message));
    }
  }

  G.header();
  load();
})();
