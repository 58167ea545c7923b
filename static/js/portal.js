/* Progressive enhancement only: every rule is enforced on the server. */
(function () {
  "use strict";

  function setShown(element, shown) {
    element.hidden = !shown;
    element.querySelectorAll("input, select, textarea").forEach(function (input) {
      input.disabled = !shown;
    });
  }

  function bind(control, update) {
    control.addEventListener("change", update);
    update();
  }

  document.querySelectorAll("select[data-credential-type]").forEach(function (select) {
    var form = select.form;
    bind(select, function () {
      var isLetter = select.value === "official_letter";
      form.querySelectorAll('[data-show-when="credential-number"]').forEach(function (element) {
        setShown(element, !isLetter);
      });
    });
  });

  document.querySelectorAll("input[data-legal-representative]").forEach(function (checkbox) {
    var form = checkbox.form;
    bind(checkbox, function () {
      form.querySelectorAll('[data-show-when="not-legal-representative"]').forEach(function (element) {
        setShown(element, !checkbox.checked);
      });
    });
  });
})();
