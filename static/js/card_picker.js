/* The card picker (issue 11 §2, templates/includes/card_picker.html): find an enterprise's cards by the
   first digits of their ICCID or number, by status or by the rule that fires, tick them, or select all that
   match, and on a phone scan the ICCID barcode. Progressive enhancement only: without script the form's own
   field (a textarea of ICCIDs, or its card checkboxes) is used as typed, and the server checks every card
   either way. "Select all that match" posts the filter, never a list: the server resolves it in the same
   scope and under the form's own limit (cards.inventory.picker.with_picked_all).

   The barcode: the browser's BarcodeDetector where it reads Code 128, else the vendored ZXing library
   (static/vendor/zxing-library), loaded only when a scan starts. window.CardPicker.decode(imageData) is
   the one decode step, so that a test can feed it a drawn barcode. */
(function () {
  "use strict";

  var ICCID = /^\d{19,20}$/;
  var SPLIT = /[\s,;\uff0c\uff1b\u3001]+/;

  function format(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (whole, key) {
      return key in values ? values[key] : whole;
    });
  }

  // --- decoding -------------------------------------------------------------------------------

  var decoderPromise = null;

  function loadDecoder(src) {
    if (window.ZXing) {
      return Promise.resolve(window.ZXing);
    }
    if (!decoderPromise) {
      decoderPromise = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src || document.querySelector("[data-card-picker]").getAttribute("data-decoder");
        script.onload = function () {
          if (window.ZXing) {
            resolve(window.ZXing);
          } else {
            reject(new Error("decoder"));
          }
        };
        script.onerror = function () {
          decoderPromise = null;
          reject(new Error("decoder"));
        };
        document.head.appendChild(script);
      });
    }
    return decoderPromise;
  }

  // The digits of a Code 128 barcode in an ImageData, or null. Grey levels are worked out here, so the
  // library gets one byte a pixel whatever it would guess from the array's length.
  function decode(imageData) {
    var ZXing = window.ZXing;
    if (!ZXing || !imageData) {
      return null;
    }
    var width = imageData.width;
    var height = imageData.height;
    var rgba = imageData.data;
    var grey = new Uint8ClampedArray(width * height);
    for (var i = 0, j = 0; i < grey.length; i += 1, j += 4) {
      grey[i] = (rgba[j] * 306 + rgba[j + 1] * 601 + rgba[j + 2] * 117) >> 10;
    }
    try {
      var source = new ZXing.RGBLuminanceSource(grey, width, height);
      var bitmap = new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(source));
      var hints = new Map();
      hints.set(ZXing.DecodeHintType.TRY_HARDER, true);
      var text = new ZXing.Code128Reader().decode(bitmap, hints).getText();
      return text ? String(text).replace(/\D/g, "") || null : null;
    } catch (error) {
      return null; // no barcode in this frame
    }
  }

  window.CardPicker = { decode: decode, loadDecoder: loadDecoder };

  // --- one picker -----------------------------------------------------------------------------

  function Picker(root) {
    this.root = root;
    this.form = root.closest("form");
    this.url = root.getAttribute("data-url");
    this.field = root.getAttribute("data-field");
    this.multiple = root.getAttribute("data-multiple") === "1";
    this.results = root.querySelector("[data-picker-results]");
    this.more = root.querySelector("[data-picker-more]");
    this.count = root.querySelector("[data-picker-count]");
    this.message = root.querySelector("[data-picker-message]");
    this.allInput = root.querySelector("[data-picker-all]");
    this.allButton = root.querySelector("[data-picker-select-all]");
    this.filters = {};
    this.selected = [];
    this.all = null; // {count} while "select all that match" stands
    this.matching = 0;
    this.tooMany = false;
    this.next = "";
    this.request = 0;
    var self = this;
    Array.prototype.forEach.call(root.querySelectorAll("[data-picker-filter]"), function (input) {
      self.filters[input.getAttribute("data-picker-filter")] = input;
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", function () {
        self.filterChanged();
      });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault(); // Enter searches; it does not submit the form
          self.filterChanged();
        }
      });
    });
    this.more.addEventListener("click", function () {
      self.load(true);
    });
    this.allButton.addEventListener("click", function () {
      self.selectAll();
    });
    root.querySelector("[data-picker-clear]").addEventListener("click", function () {
      self.clear();
    });
    this.results.addEventListener("change", function (event) {
      var box = event.target;
      if (box && box.matches("input[type=checkbox]")) {
        self.toggle(box.value, box.checked);
      }
    });
    this.watchForm();
    this.setUpScan();
    this.readField();
    root.hidden = false;
    this.load(false);
  }

  Picker.prototype.text = function (name, values) {
    return format(this.root.getAttribute("data-text-" + name), values || {});
  };

  Picker.prototype.formValue = function (name) {
    if (!name || !this.form) {
      return "";
    }
    var input = this.form.elements.namedItem(name);
    return input && "value" in input ? input.value : "";
  };

  Picker.prototype.enterprise = function () {
    return this.root.getAttribute("data-enterprise") || this.formValue(this.root.getAttribute("data-enterprise-field"));
  };

  // The form's own field is what is submitted; the picker reads it and writes it.
  Picker.prototype.textarea = function () {
    return this.multiple ? null : this.form.querySelector("textarea[name='" + this.field + "']");
  };

  Picker.prototype.boxes = function () {
    return this.form.querySelectorAll("input[type=checkbox][name='" + this.field + "']:not([data-picker-box])");
  };

  Picker.prototype.readField = function () {
    var area = this.textarea();
    if (area) {
      this.selected = area.value.split(SPLIT).filter(Boolean);
    } else {
      var picked = [];
      Array.prototype.forEach.call(this.boxes(), function (box) {
        if (box.checked) {
          picked.push(box.value);
        }
      });
      Array.prototype.forEach.call(this.root.querySelectorAll("[data-picker-hidden-cards] input"), function (input) {
        picked.push(input.value);
      });
      this.selected = picked;
    }
    this.selected = this.selected.filter(function (value, index, list) {
      return list.indexOf(value) === index;
    });
  };

  Picker.prototype.writeField = function () {
    var selected = this.selected;
    var area = this.textarea();
    if (area) {
      area.value = selected.join("\n");
    } else {
      var onPage = {};
      Array.prototype.forEach.call(this.boxes(), function (box) {
        box.checked = selected.indexOf(box.value) >= 0;
        onPage[box.value] = true;
      });
      var holder = this.root.querySelector("[data-picker-hidden-cards]");
      holder.textContent = "";
      var field = this.field;
      selected.forEach(function (iccid) {
        if (!onPage[iccid]) {
          var input = document.createElement("input");
          input.type = "hidden";
          input.name = field;
          input.value = iccid;
          holder.appendChild(input);
        }
      });
    }
    this.showCount();
  };

  Picker.prototype.watchForm = function () {
    var self = this;
    var area = this.textarea();
    if (area) {
      area.addEventListener("input", function () {
        self.readField();
        self.showCount();
        self.markResults();
      });
    } else {
      if (self.form) self.form.addEventListener("change", function (event) {
        if (event.target.matches && event.target.matches("input[name='" + self.field + "']:not([data-picker-box])")) {
          self.readField();
          self.showCount();
          self.markResults();
        }
      });
    }
    // Listened for on the form: the enterprise picker may replace its field's element (enterprise_autocomplete.js).
    var watched = ["data-enterprise-field", "data-business-field"]
      .map(function (attribute) { return self.root.getAttribute(attribute); })
      .filter(Boolean);
    if (self.form) self.form.addEventListener("change", function (event) {
      if (event.target && watched.indexOf(event.target.name) >= 0) self.filterChanged();
    });
  };

  Picker.prototype.toggle = function (iccid, on) {
    var at = this.selected.indexOf(iccid);
    if (on && at < 0) {
      this.selected.push(iccid);
    } else if (!on && at >= 0) {
      this.selected.splice(at, 1);
    }
    this.writeField();
  };

  Picker.prototype.showCount = function () {
    if (this.all) {
      this.count.textContent = this.text("all", { count: this.all.count });
    } else {
      this.count.textContent = this.text("selected", { count: this.selected.length });
    }
  };

  Picker.prototype.postedFilter = function (on) {
    var self = this;
    this.allInput.value = on ? "1" : "";
    Array.prototype.forEach.call(this.root.querySelectorAll("[data-picker-posted]"), function (input) {
      var name = input.getAttribute("data-picker-posted");
      input.value = on ? self.filters[name].value : "";
    });
  };

  // While a search is on its way, "select all" would count the cards of the search before it.
  Picker.prototype.busy = function (on) {
    if (on) {
      this.root.setAttribute("aria-busy", "true");
    } else {
      this.root.removeAttribute("aria-busy");
    }
    this.allButton.disabled = on;
  };

  Picker.prototype.selectAll = function () {
    if (this.root.hasAttribute("aria-busy")) {
      return;
    }
    if (this.tooMany) {
      this.message.textContent = this.text("too-many");
      return;
    }
    if (!this.matching) {
      this.message.textContent = this.text("none");
      return;
    }
    this.all = { count: this.matching };
    this.postedFilter(true);
    this.markResults();
    this.showCount();
  };

  Picker.prototype.dropAll = function () {
    this.all = null;
    this.postedFilter(false);
  };

  Picker.prototype.clear = function () {
    this.dropAll();
    this.selected = [];
    this.writeField();
    this.markResults();
  };

  Picker.prototype.filterChanged = function () {
    // A "select all" stands for the filter it was made with: a new filter asks again.
    if (this.all) {
      this.dropAll();
      this.showCount();
    }
    var self = this;
    this.busy(true);
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () {
      self.load(false);
    }, 200);
  };

  Picker.prototype.markResults = function () {
    var self = this;
    Array.prototype.forEach.call(this.results.querySelectorAll("input[data-picker-box]"), function (box) {
      box.checked = !!self.all || self.selected.indexOf(box.value) >= 0;
      box.disabled = !!self.all;
    });
  };

  Picker.prototype.row = function (card) {
    var item = document.createElement("li");
    var label = document.createElement("label");
    label.className = "checkbox";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.value = card.iccid;
    box.setAttribute("data-picker-box", "");
    var iccid = document.createElement("span");
    iccid.className = "mono";
    iccid.textContent = card.iccid;
    var details = document.createElement("span");
    details.className = "card-picker__details";
    details.textContent =
      card.msisdn +
      " · " +
      card.status_label +
      (card.rules.length
        ? " · " +
          card.rules
            .map(function (rule) {
              return rule.title + " (" + rule.id + ")";
            })
            .join(", ")
        : "");
    label.appendChild(box);
    label.appendChild(iccid);
    label.appendChild(details);
    item.appendChild(label);
    return item;
  };

  Picker.prototype.load = function (more) {
    var self = this;
    var enterprise = this.enterprise();
    if (!more) {
      this.results.textContent = "";
      this.more.hidden = true;
      this.next = "";
      this.matching = 0;
      this.tooMany = false;
    }
    if (!enterprise) {
      this.busy(false);
      this.message.textContent = this.text("choose-enterprise");
      this.showCount();
      return;
    }
    var params = new URLSearchParams({
      purpose: this.root.getAttribute("data-purpose"),
      enterprise: enterprise,
      q: this.filters.q.value,
      status: this.filters.status.value,
      rule: this.filters.rule.value,
    });
    var business = this.formValue(this.root.getAttribute("data-business-field"));
    if (business) {
      params.set("business_type", business);
    }
    if (more && this.next) {
      params.set("after", this.next);
    }
    var ticket = (this.request += 1);
    this.busy(true);
    window
      .fetch(this.url + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (answer) {
        if (ticket !== self.request) {
          return; // an older search answered late
        }
        self.busy(false);
        if (!answer.ok) {
          self.message.textContent = answer.body.detail || self.text("failed");
          return;
        }
        var body = answer.body;
        if (!more) {
          self.matching = body.matching || 0;
          self.tooMany = !!body.more_than_limit;
        }
        body.results.forEach(function (card) {
          self.results.appendChild(self.row(card));
        });
        self.next = body.next || "";
        self.more.hidden = !self.next;
        self.message.textContent = self.results.children.length ? (self.tooMany ? self.text("too-many") : "") : self.text("none");
        self.markResults();
        self.showCount();
      })
      .catch(function () {
        if (ticket === self.request) {
          self.busy(false);
          self.message.textContent = self.text("failed");
        }
      });
  };

  // --- scanning -------------------------------------------------------------------------------

  Picker.prototype.setUpScan = function () {
    var button = this.root.querySelector("[data-picker-scan]");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return; // no camera API (or not a secure page): the search box is the way in
    }
    var self = this;
    button.hidden = false;
    button.addEventListener("click", function () {
      self.startScan();
    });
    this.root.querySelector("[data-picker-scan-stop]").addEventListener("click", function () {
      self.stopScan();
    });
  };

  Picker.prototype.detector = function () {
    if (!("BarcodeDetector" in window) || !window.BarcodeDetector.getSupportedFormats) {
      return Promise.resolve(null);
    }
    return window.BarcodeDetector.getSupportedFormats()
      .then(function (formats) {
        return formats.indexOf("code_128") >= 0 ? new window.BarcodeDetector({ formats: ["code_128"] }) : null;
      })
      .catch(function () {
        return null;
      });
  };

  Picker.prototype.startScan = function () {
    var self = this;
    var panel = this.root.querySelector("[data-picker-scanner]");
    var status = this.root.querySelector("[data-picker-scan-status]");
    var video = this.root.querySelector("[data-picker-video]");
    panel.hidden = false;
    status.textContent = this.text("scanning");
    this.detector()
      .then(function (detector) {
        self.nativeDetector = detector;
        return detector ? null : loadDecoder(self.root.getAttribute("data-decoder"));
      })
      .then(function () {
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      })
      .then(function (stream) {
        self.stream = stream;
        video.srcObject = stream;
        return video.play();
      })
      .then(function () {
        self.scanFrame(video);
      })
      .catch(function () {
        self.stopScan();
        self.message.textContent = self.text("no-camera");
      });
  };

  Picker.prototype.found = function (digits) {
    if (!ICCID.test(digits || "")) {
      return false;
    }
    this.stopScan();
    this.filters.q.value = digits;
    this.message.textContent = this.text("scanned", { iccid: digits });
    this.filterChanged();
    return true;
  };

  Picker.prototype.scanFrame = function (video) {
    var self = this;
    if (!this.stream) {
      return;
    }
    var again = function () {
      self.scanTimer = window.setTimeout(function () {
        self.scanFrame(video);
      }, 250);
    };
    if (this.nativeDetector) {
      this.nativeDetector
        .detect(video)
        .then(function (codes) {
          var digits = codes.length ? String(codes[0].rawValue || "").replace(/\D/g, "") : "";
          if (!self.found(digits)) {
            again();
          }
        })
        .catch(again);
      return;
    }
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (width && height) {
      var canvas = this.canvas || (this.canvas = document.createElement("canvas"));
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      if (this.found(decode(context.getImageData(0, 0, width, height)))) {
        return;
      }
    }
    again();
  };

  Picker.prototype.stopScan = function () {
    window.clearTimeout(this.scanTimer);
    if (this.stream) {
      this.stream.getTracks().forEach(function (track) {
        track.stop();
      });
      this.stream = null;
    }
    this.root.querySelector("[data-picker-scanner]").hidden = true;
  };

  function start() {
    if (!window.fetch || !window.URLSearchParams) {
      return;
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-card-picker]"), function (root) {
      if (root.closest("form")) {
        root.cardPicker = new Picker(root);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
