/* The card user page polls its face comparison until it is final. Progressive enhancement only. */
(function () {
  "use strict";
  var box = document.getElementById("verification-status");
  var url = box && box.getAttribute("data-poll-url");
  if (!url || !window.fetch) { return; }
  function show(body) {
    var badge = box.querySelector("[data-status]");
    badge.textContent = body.status_label;
    badge.className = "badge badge--" + body.status;
    var list = box.querySelector("[data-reasons]");
    list.textContent = "";
    body.reasons.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    var registration = body.registration_status;
    var line = document.getElementById("registration-status");
    if (registration && line) {
      line.setAttribute("data-registration", registration.code);
      line.className = "alert " + (registration.code === "registered" ? "alert--success"
        : (registration.final ? "alert--warning" : "alert--info"));
      line.querySelector("[data-registration-label]").textContent = registration.label;
      line.querySelector("[data-registration-detail]").textContent = registration.detail;
    }
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        show(body);
        if (body.final) {
          box.querySelector("[data-pending-hint]").hidden = true;
          box.querySelector("[data-done-hint]").hidden = false;
          return;
        }
        window.setTimeout(poll, body.status === "pending" ? 2000 : 15000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
})();
