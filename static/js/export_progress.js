// Polls a list export's progress (portal.export_views.export_progress) until it is ready or failed.
(function () {
  "use strict";
  var box = document.getElementById("export");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  function show(data) {
    ["status_label", "done_rows", "total_rows"].forEach(function (name) {
      var el = box.querySelector('[data-export-field="' + name + '"]');
      if (el && data[name] !== undefined) { el.textContent = String(data[name]); }
    });
    if (data.download_url) {
      var ready = box.querySelector("[data-export-ready]");
      var link = document.getElementById("export-download");
      if (link) { link.setAttribute("href", data.download_url); }
      if (ready) { ready.hidden = false; }
    }
    return data.status === "pending" || data.status === "running";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && show(data)) { window.setTimeout(poll, 2000); }
        else if (data) { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
