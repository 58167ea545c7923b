/* Active liveness capture (issue 9 §3): show the server's challenge, take 8-15 frames from one tap, upload JPEGs.
 *
 * Markup (a template renders it; no inline script, so it works under the CSP):
 *   <div id="liveness-capture" data-upload-url="..." data-challenge="left,right" data-frames="12"
 *        data-interval-ms="250" data-max-side="640" data-labels='{"left": "...", "right": "...", ...}'>
 *     <video data-preview playsinline muted></video>
 *     <p data-prompt aria-live="polite"></p>
 *     <button type="button" data-start>...</button>
 *     <div data-fallback hidden>... <input type="file" accept="image/*" capture="user"> ...</div>
 *     <input type="hidden" name="csrfmiddlewaretoken" value="...">
 *   </div>
 * The challenge is chosen at random by the server; the page only shows it. Frames are taken as captured
 * (the preview may be mirrored with CSS, the frames never are), so "left" means the image's left edge.
 * The upload is multipart: frame files named fNNNN_tSSS.sss.jpg (the command and the check read the
 * times from them), plus "timestamps" (seconds, comma-separated) and "challenge".
 *
 * Form mode (the counter's card-user page, C1): without data-upload-url, the frames are not sent at once but
 * put into the page's form, in <input type="file" multiple data-frames-input> and
 * <input type="hidden" data-timestamps-input>, and go with the form's own submit. The challenge then travels
 * in the form as the server signed it. A browser that cannot fill a file input gets the fallback.
 */
(function () {
  "use strict";
  var box = document.getElementById("liveness-capture");
  if (!box) { return; }
  var video = box.querySelector("[data-preview]");
  var prompt = box.querySelector("[data-prompt]");
  var start = box.querySelector("[data-start]");
  var fallback = box.querySelector("[data-fallback]");
  var moves = (box.getAttribute("data-challenge") || "").split(",").filter(Boolean);
  var total = Math.min(15, Math.max(8, parseInt(box.getAttribute("data-frames"), 10) || 12));
  var interval = parseInt(box.getAttribute("data-interval-ms"), 10) || 250;
  var maxSide = parseInt(box.getAttribute("data-max-side"), 10) || 640;
  var labels = {};
  try { labels = JSON.parse(box.getAttribute("data-labels") || "{}"); } catch (e) { labels = {}; }

  function say(key) { prompt.textContent = labels[key] || key; }

  function showFallback() {
    // No camera API (e.g. some in-app browsers): the file input with capture="user" and the guide stay.
    if (fallback) { fallback.hidden = false; }
    if (start) { start.hidden = true; }
  }

  var uploadUrl = box.getAttribute("data-upload-url");
  var framesInput = box.querySelector("[data-frames-input]");
  var timesInput = box.querySelector("[data-timestamps-input]");
  var formMode = !uploadUrl && framesInput && timesInput;
  var canFill = formMode && typeof window.DataTransfer === "function";
  if (formMode) {
    try { new window.DataTransfer(); } catch (e) { canFill = false; }
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch || !window.FormData ||
      (formMode && !canFill) || (!formMode && !uploadUrl)) {
    showFallback();
    return;
  }

  function grab(canvas) {
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, maxSide / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.9); });
  }

  function pad(n, width) { var s = String(n); while (s.length < width) { s = "0" + s; } return s; }

  function frameName(f, i) { return "f" + pad(i, 4) + "_t" + pad(f.t.toFixed(3), 7) + ".jpg"; }

  function fill(frames) {
    var transfer = new window.DataTransfer();
    frames.forEach(function (f, i) {
      transfer.items.add(new File([f.blob], frameName(f, i), {type: "image/jpeg"}));
    });
    framesInput.files = transfer.files;
    timesInput.value = frames.map(function (f) { return f.t.toFixed(3); }).join(",");
    say("captured");
    box.dispatchEvent(new CustomEvent("liveness:captured", {detail: {frames: frames.length}}));
    return Promise.resolve();
  }

  function upload(frames) {
    if (formMode) { return fill(frames); }
    var form = new FormData();
    var csrf = box.querySelector("input[name=csrfmiddlewaretoken]");
    if (csrf) { form.append("csrfmiddlewaretoken", csrf.value); }
    form.append("challenge", moves.join(","));
    form.append("timestamps", frames.map(function (f) { return f.t.toFixed(3); }).join(","));
    frames.forEach(function (f, i) {
      form.append("frames", f.blob, frameName(f, i));
    });
    say("uploading");
    return fetch(uploadUrl, {method: "POST", body: form, credentials: "same-origin"})
      .then(function (response) {
        say(response.ok ? "uploaded" : "upload_failed");
        box.dispatchEvent(new CustomEvent("liveness:uploaded", {detail: {ok: response.ok, status: response.status}}));
      })
      .catch(function () { say("upload_failed"); });
  }

  function capture(stream) {
    var canvas = document.createElement("canvas");
    var frames = [];
    var began = null;
    var perMove = Math.max(1, Math.ceil(total / Math.max(1, moves.length)));
    return new Promise(function (resolve) {
      function tick() {
        var index = frames.length;
        say(moves[Math.min(moves.length - 1, Math.floor(index / perMove))]);
        grab(canvas).then(function (blob) {
          var now = performance.now();
          if (began === null) { began = now; }
          frames.push({blob: blob, t: (now - began) / 1000});
          if (frames.length < total) { setTimeout(tick, interval); } else { resolve(frames); }
        });
      }
      tick();
    }).then(function (taken) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      return taken;
    });
  }

  start.addEventListener("click", function () {
    // iOS grants the camera only from a user gesture: everything starts from this tap.
    start.disabled = true;
    navigator.mediaDevices.getUserMedia({video: {facingMode: "user", width: {ideal: 640}}, audio: false})
      .then(function (stream) {
        video.srcObject = stream;
        return video.play().then(function () { say("get_ready"); return stream; });
      })
      .then(function (stream) {
        return new Promise(function (resolve) { setTimeout(function () { resolve(stream); }, 1000); });
      })
      .then(capture)
      .then(upload)
      .catch(function () { showFallback(); say("camera_denied"); })
      .then(function () { start.disabled = false; });
  });
})();
