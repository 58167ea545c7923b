/* The counter's handover page: polls the handover's progress every 2 seconds and shows the phone's step;
   once the registration has settled, the phone was refused (with the reason) or the handover is closed, it
   shows the result and stops. No dependencies. */
(function () {
  "use strict";
  var root = document.getElementById("handover");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-progress-url");
  function field(name, value) {
    var nodes = root.querySelectorAll('[data-handover-field="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = value == null ? "" : String(value); }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } return response.json(); })
      .then(function (data) {
        field("step_display", data.step_display);
        field("registration_display", data.registration_display);
        field("refusal_display", data.refusal_display);
        field("reasons", (data.reasons || []).join(", "));
        document.getElementById("handover-refusal").hidden = !data.refusal;
        document.getElementById("handover-reasons").hidden = !(data.reasons && data.reasons.length);
        if (data.card_user_url) {
          var link = document.getElementById("handover-result");
          link.href = data.card_user_url; link.hidden = false;
        }
        // A registration waiting for a reviewer may wait hours: ask less often meanwhile.
        if (!data.done) { window.setTimeout(poll, data.registration === "in_review" ? 15000 : 2000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  poll();
}());
