/* The member code: a countdown of the QR token's life, measured from when it arrived (so the
   phone's clock does not matter). htmx polls for a new code before this one expires; when a poll
   fails (offline) the code stays on screen until it expires, then it is greyed out and a new one
   is asked for as soon as the phone is online or the page is looked at again. */
(function () {
  "use strict";

  function ask(el) {
    if (window.htmx && el && el.isConnected) window.htmx.trigger(el, "refresh");
  }

  function start(el) {
    if (!el || el.getAttribute("data-started")) return;
    el.setAttribute("data-started", "1");
    var ttl = parseInt(el.getAttribute("data-ttl"), 10) || 0;
    var expires = Date.now() + ttl * 1000;
    el.expiresAt = expires;
    var out = el.querySelector("[data-countdown]");
    var bar = el.querySelector("[data-countdown-bar]");
    var asked = false;
    var timer = setInterval(tick, 1000);
    function tick() {
      if (!el.isConnected) { clearInterval(timer); return; }
      var left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      if (out) out.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (bar) bar.style.width = (ttl ? (left * 100) / ttl : 0) + "%";
      el.classList.toggle("expiring", left > 0 && left <= 30);
      el.classList.toggle("expired", left === 0);
      if (left === 0 && !asked && navigator.onLine !== false) { asked = true; ask(el); }
    }
    tick();
  }

  function current() { return document.getElementById("card-qr"); }

  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "card-qr") start(elt);
    else if (elt && elt.querySelector) start(elt.querySelector("#card-qr"));
  });
  document.addEventListener("DOMContentLoaded", function () { start(current()); });
  document.addEventListener("visibilitychange", function () {
    var el = current();
    if (document.visibilityState === "visible" && el && el.expiresAt - Date.now() < 30000) ask(el);
  });
  window.addEventListener("online", function () {
    var el = current();
    if (el && el.expiresAt - Date.now() < 60000) ask(el);
  });
})();
