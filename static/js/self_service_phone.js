/* The phone flow's live step (templates/self_service/phone_step.html): once the capture is uploaded, load
 * the step again; the server then shows the next step, the check still running, or a retake with reasons. */
(function () {
  "use strict";
  var box = document.getElementById("liveness-capture");
  if (!box) { return; }
  box.addEventListener("liveness:uploaded", function (event) {
    if (event.detail && event.detail.ok) { window.location.reload(); }
  });
})();
