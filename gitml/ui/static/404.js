/* gitml ui: the 404 page says what was not found and why. */
"use strict";
(async () => {
  G.header();
  let path = location.pathname;
  try {
    path = decodeURIComponent(path);
  } catch (e) {
    // a malformed escape: show the path as it is
  }
  const match = /^\/runs\/([^/]+)$/.exec(path);
  document.getElementById("what").textContent = match
    ? `No run matches “${match[1]}”.` : `No page at ${path}.`;
  if (match) {
    try {
      await G.api(`/api/runs/${encodeURIComponent(match[1])}`);
    } catch (err) {
      document.getElementById("why").textContent = err.message;
    }
  }
})();
