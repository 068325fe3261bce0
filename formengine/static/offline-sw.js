/* formengine service worker: the app's own files, and a page that says "no connection".
 *
 * It keeps copies of the stylesheet and scripts (no personal data) so the app's
 * pages and the stepper load their code without a network, and answers a page
 * request that fails for lack of a network with the cached /offline page (which
 * says that the answers given are kept on the tablet), or, for the prepared visit and a prepared
 * form's address, with the cached /offline/app page, which opens them from what the tablet keeps
 * encrypted (offline-store.js, offline-visit.js). Neither page holds personal data. It never stores a page
 * or a reply with answers or family data; requests other than GET pass through.
 */
"use strict";

// Renamed when cached files must change together (v3: offline-stepper.js and offline-visit.js use
// offline-store.js's FormengineDom), so the new worker keeps them all afresh.
var CACHE = "formengine-static-v3";
var FILES = ["/offline", "/offline/app", "/static/formengine.css", "/static/answer-queue.js", "/static/fill.js",
             "/static/offline-stepper.js", "/static/offline-store.js", "/static/offline-visit.js",
             "/static/vendor/htmx/htmx.min.js"];
// Addresses that the page kept for use offline (/offline/app, no personal data) opens from what the
// tablet keeps encrypted: the prepared visit and a prepared form.
var APP = /^\/(visit$|fill\/[0-9a-f-]{36}(\/review)?$)/;

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
    event.respondWith(fetch(request).catch(function () {
      return caches.match(APP.test(url.pathname) ? "/offline/app" : "/offline");
    }));
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
