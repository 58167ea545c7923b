/* Order page: while the handler's face comparison runs (rule H3), poll the order
   every 2 seconds and show its status without a reload. Progressive enhancement
   only: the page is complete without it, and every rule is enforced on the server. */
(function () {
  "use strict";

  var root = document.querySelector("[data-order-poll]");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-order-poll");
  var english = (document.documentElement.lang || "").toLowerCase().indexOf("en") === 0;
  var badge = document.querySelector("[data-order-status]");
  var timer = null;

  function setText(selector, text) {
    var element = root.querySelector(selector);
    if (element) {
      element.textContent = text;
    }
  }

  function reasonsText(reasons) {
    if (!reasons || !reasons.length) {
      return "\u2014";
    }
    return reasons
      .map(function (reason) {
        return (english ? reason.en : reason.zh) || reason.code || "";
      })
      .join("; ");
  }

  function show(order) {
    if (badge) {
      badge.textContent = order.status_label;
      badge.className = "badge badge--" + order.status;
    }
    if (order.verification) {
      setText("[data-verification-status]", order.verification.status_label);
      setText("[data-verification-reasons]", reasonsText(order.verification.reasons));
    }
    if (order.status === "rejected") {
      setText("[data-order-rejection-reason]", order.rejection_reason || "");
      var rejection = root.querySelector("[data-order-rejection]");
      if (rejection) {
        rejection.hidden = false;
      }
    }
    if (order.status === "completed") {
      var done = root.querySelector("[data-order-done]");
      if (done) {
        done.hidden = false;
      }
    }
    var rejectedPhoto = order.verification && order.verification.status === "rejected";
    return order.status === "awaiting_verification" && !rejectedPhoto;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (order) {
        if (show(order)) {
          timer = window.setTimeout(poll, 2000);
        } else if (order.verification && order.verification.status === "rejected") {
          // The photo was refused as unusable: reload once to show the retake form
          // (the server does not poll such a page, so this cannot loop).
          window.location.reload();
        }
      })
      .catch(function () {
        timer = window.setTimeout(poll, 5000);
      });
  }

  timer = window.setTimeout(poll, 2000);
  window.addEventListener("pagehide", function () {
    window.clearTimeout(timer);
  });
})();
