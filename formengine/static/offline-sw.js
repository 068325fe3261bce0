/* formengine service worker: the app's own files, and a page that says "no connection".
 *
 * It keeps copies of the stylesheet and scripts (no personal data) so the app's
 * pages and the stepper load their code without a network, and answers a page
 * request that fails for lack of a network with the cached /offline page (which
 * says that the answers given are kept on the tablet). It never stores a page
 * or a reply with answers or family data; requests other than GET pass through.
 */
"use strict";

var CACHE = "formengine-static-v1";
var FILES = ["/offline", "/static/formengine.css", "/static/answer-queue.js", "/static/fill.js",
             "/static/offline-stepper.js", "/static/vendor/htmx/htmx.min.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(FILES); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    // Pages always come from the server; only when it cannot be reached, the offline page.
    event.respondWith(fetch(request).catch(function () { return caches.match("/offline"); }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    // The app's files: the network when it answers (and keep the copy fresh), else the copy.
    event.respondWith(fetch(request).then(function (reply) {
      if (reply.ok) {
        var copy = reply.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return reply;
    }).catch(function () {
      return caches.match(url.pathname).then(function (hit) { return hit || Response.error(); });
    }));
  }
});
