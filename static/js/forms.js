/* Forms: show where the errors are, and what was chosen (issue 11 §2). Progressive enhancement only. */
(function () {
  "use strict";

  function fieldTarget(link) {
    var id = (link.getAttribute("href") || "").slice(1);
    var target = id && document.getElementById(id);
    if (!target) {
      // A field its template draws itself (checkboxes of a table): its first input of that name.
      var name = link.getAttribute("data-error-link");
      target = document.getElementsByName(name)[0] || document.querySelector('[data-field="' + name + '"]');
    }
    return target;
  }

  function reveal(target) {
    var box = target.closest(".field, fieldset") || target;
    box.scrollIntoView({ block: "start" });
    if (typeof target.focus === "function") {
      target.focus({ preventScroll: true });
    }
  }

  // One summary lists every error: it takes the focus, so the first error is where the reader is.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
    summary.querySelectorAll("a[data-error-link]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = fieldTarget(link);
        if (target) {
          event.preventDefault();
          reveal(target);
        }
      });
    });
  } else {
    var first = document.querySelector(".field--error");
    if (first) {
      reveal(first.querySelector("input:not([type=hidden]), select, textarea") || first);
    }
  }

  // A preview of each photo chosen or taken, made in the browser (blob: URLs, never sent anywhere).
  document.querySelectorAll('input[type="file"]').forEach(function (input) {
    if (input.hidden) {
      return; // the live capture's frames: its own script shows them
    }
    var preview = document.createElement("div");
    preview.className = "upload-preview";
    preview.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", preview);
    var urls = [];
    var field = input.closest(".field");
    var kept = field && field.querySelector("[data-kept-upload]");

    input.addEventListener("change", function () {
      urls.forEach(function (url) {
        URL.revokeObjectURL(url);
      });
      urls = [];
      preview.textContent = "";
      Array.prototype.forEach.call(input.files || [], function (file) {
        if (file.type.indexOf("image/") === 0) {
          var url = URL.createObjectURL(file);
          urls.push(url);
          var image = document.createElement("img");
          image.className = "upload-preview__image";
          image.src = url;
          image.alt = input.getAttribute("data-preview-alt") || "";
          preview.appendChild(image);
        } else {
          var note = document.createElement("p");
          note.className = "upload-preview__file";
          note.textContent = file.name;
          preview.appendChild(note);
        }
      });
      if (kept) {
        // A new choice replaces the kept file (the server does the same).
        var replaced = input.files && input.files.length > 0;
        kept.hidden = replaced;
        kept.querySelectorAll("input[type=hidden]").forEach(function (hidden) {
          hidden.disabled = replaced;
        });
      }
    });
  });

  document.querySelectorAll("[data-kept-remove]").forEach(function (button) {
    button.addEventListener("click", function () {
      var kept = button.closest("[data-kept-upload]");
      if (kept) {
        kept.remove();
      }
    });
  });
})();
