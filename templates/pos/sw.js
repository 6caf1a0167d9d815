{% autoescape off %}// The counter's service worker (version {{ version }}): keeps the counter page, its scripts and styles,
// so that a reload without network still opens the counter (issue 18). Network first: online, tills
// always get the live page; the copy is used only when the network fails.
"use strict";
var CACHE = "counter-{{ version }}";
var PAGE = "{% url 'counter:index' %}";
var ASSETS = {{ assets_json }};

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(ASSETS).then(function () {
        // the counter page as the signed-in clerk sees it with no member open (never a sign-in page)
        return fetch(PAGE, {credentials: "same-origin"}).then(function (response) {
          if (response.ok && !response.redirected) return cache.put(PAGE, response);
        }).catch(function () {});
      });
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf("counter-") === 0 && k !== CACHE; })
        .map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("message", function (event) {
  // signing out: forget the kept page (the queue of sales is the store's and stays)
  if (event.data === "forget-page") caches.open(CACHE).then(function (cache) { cache.delete(PAGE); });
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.indexOf(PAGE) === 0) {
    event.respondWith(
      fetch(request).then(function (response) {
        if (response.ok && !response.redirected && url.pathname === PAGE && !url.search) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(PAGE, copy); });
        }
        return response;
      }).catch(function () {
        return caches.open(CACHE).then(function (cache) { return cache.match(PAGE); }).then(function (page) {
          return page || Response.error();
        });
      })
    );
    return;
  }
  if (ASSETS.indexOf(url.pathname) !== -1) {
    event.respondWith(
      fetch(request).catch(function () {
        return caches.open(CACHE).then(function (cache) { return cache.match(url.pathname); });
      })
    );
  }
});
{% endautoescape %}
