// The enterprise picker (enterprises/autocomplete.py): turns its text box into a combobox (WAI-ARIA 1.2 pattern,
// list autocomplete) over the suggestion endpoint. Without this script the form still works: the server resolves
// what was typed. Typing clears the hidden public id, so a stale choice never rides along with new text.
(function () {
  "use strict";

  var DELAY_MS = 200;

  function setup(root) {
    var input = root.querySelector("[data-autocomplete-input]");
    var value = root.querySelector("[data-autocomplete-value]");
    var list = root.querySelector("[role=listbox]");
    var status = root.querySelector("[data-autocomplete-status]");
    if (!input || !value || !list) return;
    if (value.tagName === "SELECT") {
      // The server's fallback list of matches: picking one fills the text box too.
      value.addEventListener("change", function () {
        var option = value.options[value.selectedIndex];
        if (option && option.value) input.value = option.getAttribute("data-name") || option.textContent;
      });
    }
    var url = root.getAttribute("data-autocomplete");
    var timer = null;
    var active = -1;
    var asked = 0;
    var options = [];

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      options.forEach(function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var li = options[index];
      if (!li) return;
      input.value = li.getAttribute("data-name");
      if (value.tagName === "SELECT") {
        // The server's fallback list gives way to the pick: one hidden id, as on a first showing.
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = value.name;
        hidden.setAttribute("data-autocomplete-value", "");
        value.replaceWith(hidden);
        value = hidden;
      }
      value.value = li.getAttribute("data-id");
      // A script's change fires no event: say it, so that what depends on the enterprise (the card picker) follows.
      value.dispatchEvent(new Event("change", { bubbles: true }));
      close();
      if (status) status.textContent = li.textContent;
    }

    function show(results) {
      list.textContent = "";
      options = results.map(function (item, i) {
        var li = document.createElement("li");
        li.id = list.id + "_" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-id", item.id);
        li.setAttribute("data-name", item.name);
        li.className = "autocomplete__option";
        li.textContent = item.label;
        // mousedown, not click: the input's blur would close the list before a click lands.
        li.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(i);
        });
        list.appendChild(li);
        return li;
      });
      active = -1;
      if (options.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      } else {
        close();
      }
      if (status) {
        status.textContent = options.length
          ? (root.getAttribute("data-found") || "%s").replace("%s", options.length)
          : root.getAttribute("data-none") || "";
      }
    }

    function ask() {
      var ticket = ++asked;
      var separator = url.indexOf("?") === -1 ? "?" : "&";
      fetch(url + separator + "q=" + encodeURIComponent(input.value.trim()), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (data) {
          // Answers can arrive out of order: only the latest question's is shown.
          if (ticket === asked && document.activeElement === input) show(data.results || []);
        })
        .catch(function () {
          close();
        });
    }

    input.addEventListener("input", function () {
      if (value.tagName !== "SELECT" && value.value) {
        value.value = "";
        value.dispatchEvent(new Event("change", { bubbles: true }));
      }
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("focus", function () {
      if (!input.value.trim()) ask();
    });
    input.addEventListener("blur", function () {
      close();
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!open) {
          ask();
          return;
        }
        highlight(Math.min(active + 1, options.length - 1));
      } else if (event.key === "ArrowUp") {
        if (!open) return;
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter") {
        // Enter picks the highlighted option; with none highlighted it submits the form as typed.
        if (open && active >= 0) {
          event.preventDefault();
          choose(active);
        }
      } else if (event.key === "Escape") {
        if (open) {
          event.preventDefault();
          close();
        }
      }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-autocomplete]"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
