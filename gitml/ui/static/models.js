/* gitml ui: the model registry (models, their versions and aliases, the runs they came from). */
"use strict";

(() => {
  const {el, clear} = G;

  function aliasBadges(names) {
    return names.map((a) => el("span", {class: "badge alias", title: `models:/…@${a}`}, `@${a}`));
  }

  function sourceLink(version) {
    if (!version.run_id) return el("span", {class: "mono"}, version.source);
    return el("a", {href: G.runUrl(version.run_id), title: version.source}, G.shortId(version.run_id));
  }

  async function showVersions(name, box) {
    try {
      const data = await G.api(`/api/models/${encodeURIComponent(name)}`);
      clear(box).append(el("table", {class: "grid versions", dataset: {model: name}},
        el("thead", {}, el("tr", {}, ["version", "aliases", "registered", "by", "run", "flavors", "URI"]
          .map((h) => el("th", {}, h)))),
        el("tbody", {}, data.versions.map((v) => el("tr", {dataset: {version: String(v.version)}},
          el("td", {class: "num"}, String(v.version)),
          el("td", {}, aliasBadges(v.aliases)),
          el("td", {title: v.created}, G.fmtTime(v.created)),
          el("td", {}, v.registered_by || ""),
          el("td", {}, sourceLink(v)),
          el("td", {}, (v.flavors || []).join(", ")),
          el("td", {class: "mono"}, v.uri))))));
    } catch (err) {
      clear(box).append(G.errorBox(err.message));
    }
  }

  async function load() {
    const main = document.getElementById("content");
    let data;
    try {
      data = await G.api("/api/models");
    } catch (err) {
      clear(main).append(el("h1", {}, "Models"), G.errorBox(err.message));
      return;
    }
    clear(main).append(el("h1", {}, "Models"));
    if (!data.models.length) {
      main.append(el("div", {class: "card", id: "no-models"},
        el("p", {}, "No registered models yet."),
        el("p", {class: "muted"}, "Register one with ",
          el("code", {}, "gitml models register runs:/<run>/<model> NAME"),
          " or log_model(..., registered_model_name=NAME).")));
      return;
    }
    const wanted = new URLSearchParams(location.search).get("name");
    for (const m of data.models) {
      const box = el("div", {class: "versions-box"});
      const open = m.name === wanted || data.models.length === 1;
      const details = el("details", {class: "card model-entry", dataset: {model: m.name}, open},
        el("summary", {},
          el("strong", {}, m.name), " ",
          el("span", {class: "muted"}, `${m.versions} version${m.versions === 1 ? "" : "s"}, latest ${m.latest}`),
          " ", ...aliasBadges(Object.keys(m.aliases))),
        box);
      details.addEventListener("toggle", () => { if (details.open && !box.firstChild) showVersions(m.name, box); });
      main.append(details);
      if (open) showVersions(m.name, box);
    }
  }

  G.header("models");
  load();
})();
