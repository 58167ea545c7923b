/* The card import's progress bar: polls the import's API status every second
   and updates the bar and the counts; when the import has finished, the page's
   main region is fetched again and swapped in, to show the result, the errors
   and the links without a reload. No dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("import-status");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-import-status-url");
  var shown = root.getAttribute("data-import-status");
  var bar = document.getElementById("import-progress");
  var FINISHED = { succeeded: true, failed: true };
  var delay = 1000;

  function field(name, value) {
    var nodes = root.querySelectorAll('[data-import-field="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = String(value); }
  }

  function show(data) {
    if (bar) {
      bar.value = data.progress_percent;
      bar.textContent = data.progress_percent + " %";
    }
    field("progress_percent", data.progress_percent);
    field("total_rows", data.total_rows);
    field("processed_rows", data.processed_rows);
    field("imported_rows", data.imported_rows);
    field("error_count", data.error_count);
    field("status_display", data.status_display);
    var badge = root.querySelector(".badge");
    if (badge) { badge.className = "badge badge--" + data.status; }
  }

  function showResult() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        var current = document.getElementById("main");
        if (!fresh || !current) { throw new Error("no main region"); }
        current.replaceWith(fresh);
        var heading = fresh.querySelector("h1");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      })
      .catch(function () { window.location.reload(); });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        delay = 1000;
        if (FINISHED[data.status]) {
          if (data.status !== shown) { showResult(); }
          return;
        }
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 10000);  /* back off while the server is unreachable */
        window.setTimeout(poll, delay);
      });
  }

  if (!FINISHED[shown]) { window.setTimeout(poll, delay); }
})();
