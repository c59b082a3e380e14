/* gitml ui: helpers shared by the pages (API calls, formatting, badges, charts, diffs). */
"use strict";

const G = (() => {
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
                   "#db2777", "#65a30d", "#4f46e5", "#b45309", "#0f766e", "#be123c"];

  // steps are whole numbers: never put a tick between two steps
  const STEP_INCREMENTS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
    .map((p) => m * p)).sort((a, b) => a - b);

  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** GET a JSON endpoint; params: object whose array values repeat the parameter. */
  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v === undefined || v === null || v === "") continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, item);
    }
    const response = await fetch(url, {headers: {Accept: "application/json"}});
    const text = await response.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = {message: text};
    }
    if (!response.ok) {
      throw new ApiError(data.message || response.statusText, response.status, data.error_code);
    }
    return data;
  }

  /** Build an element: el("a", {href: "/", class: "x", text: "hi"}, child, ...). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, v);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /** A value as text: numbers shortened, NaN spelled, null as an em dash, lists as JSON. */
  function fmt(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const abs = Math.abs(value);
      if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
      return String(parseFloat(value.toPrecision(6)));
    }
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  /** The exact value (for tooltips). */
  function exact(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 10) return `${seconds.toFixed(1)}s`;
    let s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    let m = Math.floor(s / 60); s %= 60;
    if (m < 60) return `${m}m${pad(s)}s`;
    let h = Math.floor(m / 60); m %= 60;
    if (h < 24) return `${h}h${pad(m)}m`;
    const d = Math.floor(h / 24); h %= 24;
    return `${d}d${pad(h)}h`;
  }

  /** Seconds a run has lasted so far (live for running runs). */
  function runSeconds(run) {
    if (run.duration !== null && run.duration !== undefined) return run.duration;
    if (run.status === "RUNNING" && !run.stale && run.start_time) {
      return Math.max(0, (Date.now() - new Date(run.start_time).getTime()) / 1000);
    }
    return null;
  }

  function fmtSize(bytes) {
    if (bytes === null || bytes === undefined) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    let n = bytes;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  }

  function isLive(run) {
    return run.status === "RUNNING" && !run.stale;
  }

  function badge(status, stale) {
    const s = (status || "UNKNOWN").toUpperCase();
    const title = stale ? "RUNNING, but its process is gone (it crashed or was killed)" : s;
    return el("span", {class: `badge status-${s.toLowerCase()}${stale ? " stale" : ""}`, title,
                       dataset: {status: s}}, stale ? `${s}?` : s);
  }

  function runUrl(id) {
    return `/runs/${encodeURIComponent(id)}`;
  }

  function fileUrl(runId, top, path, download) {
    const parts = path.split("/").map(encodeURIComponent).join("/");
    return `/api/runs/${encodeURIComponent(runId)}/${top}/${parts}${download ? "?download=1" : ""}`;
  }

  function shortId(id) {
    return (id || "").slice(0, 8);
  }

  /** A table of key/value rows (params, tags). */
  function kvTable(entries, emptyText) {
    if (!entries.length) return el("p", {class: "muted"}, emptyText);
    return el("table", {class: "kv"},
      el("tbody", {}, entries.map(([k, v]) =>
        el("tr", {dataset: {key: k}}, el("th", {}, k), el("td", {title: exact(v)}, fmt(v))))));
  }

  function errorBox(message) {
    return el("div", {class: "error-box", role: "alert"}, message);
  }

  // ------------------------------------------------------------------ charts

  /** Exponential moving average, debiased (as TensorBoard smooths); nulls stay null. */
  function smooth(values, weight) {
    if (!weight) return values;
    let last = 0;
    let n = 0;
    return values.map((v) => {
      if (v === null || v === undefined || !isFinite(v)) return v;
      last = last * weight + (1 - weight) * v;
      n++;
      return last / (1 - Math.pow(weight, n));
    });
  }

  function forLog(values) {
    return values.map((v) => (v === null || v === undefined || v <= 0 ? null : v));
  }

  /**
   * Draw a line chart into container (replacing any previous one).
   * spec: {xs, xLabel, series: [{label, values, color}], log, smoothing, height}
   * The container's data-points holds the points per series (comma-separated).
   */
  function chart(container, spec) {
    if (container._plot) { container._plot.destroy(); container._plot = null; }
    if (container._resize) { container._resize.disconnect(); container._resize = null; }
    clear(container);
    const series = spec.series || [];
    container.dataset.points = series.map((s) => s.count ?? s.values.filter((v) => v !== null).length).join(",");
    container.dataset.series = String(series.length);
    if (typeof uPlot === "undefined") {
      container.append(el("p", {class: "muted"}, "The chart library did not load."));
      return null;
    }
    const width = Math.max(240, container.clientWidth || 400);
    const data = [spec.xs];
    for (const s of series) {
      let values = smooth(s.values, spec.smoothing || 0);
      if (spec.log) values = forLog(values);
      data.push(values);
    }
    const many = spec.xs.length > 60;
    const opts = {
      width,
      height: spec.height || 220,
      scales: spec.scatter
        ? {x: {time: false, range: padded}, y: {range: padded}}  // points off the frame's edge
        : {x: {time: false}, y: {distr: spec.log ? 3 : 1}},
      legend: {show: series.length > 1 || !!spec.legend},
      cursor: {drag: {x: true, y: false}},
      series: [{label: spec.xLabel || "step", value: (u, v) => (v === null || v === undefined ? "—" : fmt(v))}]
        .concat(series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          // a scatter (one point per run) draws points only
          ...(spec.scatter ? {paths: () => null, points: {show: true, size: 9, fill: s.color || PALETTE[i % PALETTE.length]}}
            : {points: {show: !many, size: 4}}),
          value: (u, v) => (v === null || v === undefined ? "—" : fmt(v)),
        }))),
      axes: [
        {label: spec.xLabel || "step", size: 36, labelSize: 14, incrs: spec.scatter ? undefined : STEP_INCREMENTS,
         values: spec.scatter ? (u, ticks) => ticks.map((t) => fmt(t)) : undefined},
        // a log axis labels only some ticks: uPlot passes null for the others
        {size: 64, values: (u, ticks) => ticks.map((t) => (t === null || t === undefined ? "" : fmt(t)))},
      ],
    };
    const plot = new uPlot(opts, data, container);
    container._plot = plot;
    if (typeof ResizeObserver !== "undefined") {
      let last = width;
      container._resize = new ResizeObserver(() => {
        const w = Math.max(240, container.clientWidth);
        if (Math.abs(w - last) > 4) { last = w; plot.setSize({width: w, height: opts.height}); }
      });
      container._resize.observe(container);
    }
    return plot;
  }

  /** A scale's range with 6% of room on both sides (a unit around a single value). */
  function padded(u, min, max) {
    if (min === null || max === null) return [0, 1];
    const room = max > min ? (max - min) * 0.06 : Math.abs(min) * 0.1 || 1;
    return [min - room, max + room];
  }

  /** x values for one history: its steps, or point numbers when every step is the same. */
  function historyXs(history) {
    const steps = history.steps;
    if (steps.length > 1 && steps[0] === steps[steps.length - 1]) {
      return {xs: history.positions || steps.map((_, i) => i), label: "point"};
    }
    return {xs: steps, label: "step"};
  }

  // ------------------------------------------------------------------ diffs

  /** A unified patch as a <pre> with added/removed/header lines colored. */
  function patchView(patch) {
    const pre = el("pre", {class: "patch"});
    const lines = patch.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    for (const line of lines) {
      let cls = "";
      if (line.startsWith("diff --git")) cls = "file";
      else if (line.startsWith("+++") || line.startsWith("---")) cls = "meta";
      else if (line.startsWith("@@")) cls = "hunk";
      else if (line.startsWith("+")) cls = "add";
      else if (line.startsWith("-")) cls = "del";
      else if (/^(index |new file|deleted file|old mode|new mode|rename |copy |Binary )/.test(line)) cls = "meta";
      pre.append(el("span", {class: cls}, line + "\n"));
    }
    return pre;
  }

  /** The files of a code comparison with their change and line counts, then the patch. */
  function codeDiffView(code, emptyText) {
    const box = el("div", {class: "code-diff"});
    if (!code.files.length) {
      box.append(el("p", {class: "muted"}, emptyText));
      return box;
    }
    box.append(el("p", {}, `${code.changed} file(s) changed, `,
      el("span", {class: "add-text"}, `+${code.insertions}`), " ",
      el("span", {class: "del-text"}, `-${code.deletions}`)));
    box.append(el("table", {class: "files"}, el("tbody", {}, code.files.map((f) =>
      el("tr", {},
        el("td", {}, el("span", {class: `change change-${f.change}`}, f.change)),
        el("td", {class: "mono"}, f.old_path ? `${f.old_path} → ${f.path}` : f.path),
        el("td", {class: "num"}, f.binary ? "binary" : [
          el("span", {class: "add-text"}, `+${f.added}`), " ",
          el("span", {class: "del-text"}, `-${f.removed}`)]))))));
    if (code.patch) box.append(patchView(code.patch));
    if (code.patch_cut) box.append(el("p", {class: "muted"}, `(patch cut: ${code.patch_cut})`));
    return box;
  }

  /** The page header with the app name and navigation. */
  function header(active) {
    const nav = el("header", {class: "top"},
      el("a", {href: "/", class: "brand"}, "gitml"),
      el("nav", {},
        el("a", {href: "/", class: active === "runs" ? "active" : ""}, "Runs"),
        el("a", {href: "/models", class: active === "models" ? "active" : ""}, "Models")));
    document.body.prepend(nav);
  }

  // a chart is at most ~1,000 px wide: more points than this are sampled by the server
  const MAX_POINTS = 2000;

  return {MAX_POINTS, api, ApiError, el, clear, fmt, exact, fmtTime, fmtDuration, runSeconds, fmtSize,
          isLive, badge, runUrl, fileUrl, shortId, kvTable, errorBox, smooth, chart,
          historyXs, patchView, codeDiffView, header, PALETTE};
})();
