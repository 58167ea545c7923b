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

  // The phone menu: the header collapses to brand and button only where this script runs (see portal.css).
  document.querySelectorAll(".site-header").forEach(function (header) {
    var toggle = header.querySelector(".menu-toggle");
    if (!toggle) {
      return;
    }
    toggle.hidden = false;
    header.classList.add("site-header--collapsible");
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("site-header--open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });

  document.querySelectorAll("select[data-credential-type]").forEach(function (select) {
    var form = select.form;
    bind(select, function () {
      var isLetter = select.value === "official_letter";
      form.querySelectorAll('[data-show-when="credential-number"]').forEach(function (element) {
        setShown(element, !isLetter);
      });
    });
  });

  // E1: the official letter is offered only with a kind of unit that cannot hold a credential.
  document.querySelectorAll("select[data-unit-kind]").forEach(function (kindSelect) {
    var form = kindSelect.form;
    var typeSelect = form.querySelector("select[data-credential-type]");
    var letter = typeSelect && typeSelect.querySelector('option[value="official_letter"]');
    if (!letter) {
      return;
    }
    var letterKinds = (kindSelect.getAttribute("data-letter-kinds") || "").split(" ");
    bind(kindSelect, function () {
      var allowed = letterKinds.indexOf(kindSelect.value) !== -1;
      letter.hidden = !allowed;
      letter.disabled = !allowed;
      if (!allowed && typeSelect.value === "official_letter") {
        typeSelect.value = typeSelect.options[0].value;
        typeSelect.dispatchEvent(new Event("change"));
      }
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
