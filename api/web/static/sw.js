// Keeps the report page and its files on the phone: offline, the page still opens and the
// report is queued by app.js in IndexedDB.
var CACHE = "sentinelle-v1";
var FILES = ["/web/report", "/web/static/app.js", "/web/static/style.css"];
self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(FILES); }).then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (ks) {
    return Promise.all(ks.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (e) {
  var url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.indexOf("/web/static/") === 0) {
    e.respondWith(caches.match(e.request).then(function (hit) { return hit || fetch(e.request); }));
  } else if (url.pathname === "/web/report") {
    // Network first (a fresh form, a fresh CSRF token); the cached copy when offline.
    e.respondWith(fetch(e.request).then(function (r) {
      if (r.ok && !r.redirected) { var copy = r.clone(); caches.open(CACHE).then(function (c) { c.put("/web/report", copy); }); }
      return r;
    }).catch(function () { return caches.match("/web/report"); }));
  }
});
