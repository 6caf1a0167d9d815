/* Member pages: the "send code" button waits out the resend interval; copy buttons. No framework. */
(function () {
  "use strict";

  function resendCountdown(status) {
    var seconds = parseInt(status.getAttribute("data-resend"), 10) || 0;
    var form = status.closest("form");
    var button = form && form.querySelector(".m-send-code");
    if (!button || seconds <= 0) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.disabled = true;
    var until = Date.now() + seconds * 1000;
    (function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) { button.disabled = false; button.textContent = label; return; }
      button.textContent = label + " (" + left + "s)";
      setTimeout(tick, 1000);
    })();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    // an outerHTML swap leaves event.detail.target detached: look the new status line up
    var status = document.getElementById("code-status");
    if (!status || !status.hasAttribute("data-resend")) return;
    // after htmx has re-enabled the button it disabled for the request
    if (status) setTimeout(function () { resendCountdown(status); }, 0);
    if (status && status.classList.contains("ok")) {
      var code = status.closest("form") && status.closest("form").querySelector("[name=code]");
      if (code) code.focus();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () { button.textContent = button.getAttribute("data-copied") || "OK"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
