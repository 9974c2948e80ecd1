// Sentinelle pages: progressive enhancement only; every form also works without this file.
(function () {
  "use strict";
  var DB = "sentinelle", STORE = "queue";

  function openDb() {
    return new Promise(function (ok, fail) {
      var r = indexedDB.open(DB, 1);
      r.onupgradeneeded = function () { r.result.createObjectStore(STORE, { keyPath: "key" }); };
      r.onsuccess = function () { ok(r.result); };
      r.onerror = function () { fail(r.error); };
    });
  }
  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (ok, fail) {
        var t = db.transaction(STORE, mode), out = work(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); ok(out && out.result); };
        t.onerror = function () { db.close(); fail(t.error); };
      });
    });
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function say(text) {
    var s = document.getElementById("queue-status");
    if (s) { s.textContent = text; s.hidden = false; }
  }
  function words(name) {
    var t = document.getElementById("i18n");
    return t ? t.getAttribute("data-" + name) : "";
  }

  var flushing = false;
  function flush() {
    if (flushing) return Promise.resolve();
    flushing = true;
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return items.reduce(function (p, item) {
        return p.then(function () {
          return fetch(item.action, {
            method: "POST", credentials: "same-origin",
            headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
            body: item.body
          }).then(function (r) {
            if (r.status === 201) { say(words("sent")); return tx("readwrite", function (s) { return s.delete(item.key); }); }
            if (r.status === 422) { say(words("rejected")); return tx("readwrite", function (s) { return s.delete(item.key); }); }
            // 401 (signed out), 403, 5xx: kept for later.
          });
        });
      }, Promise.resolve());
    }).catch(function () {}).then(function () { flushing = false; });
  }

  var form = document.getElementById("report-form");
  if (form && window.indexedDB && window.fetch && window.URLSearchParams) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      // A key made when the report is written: sent twice, it is stored once.
      form.elements.idempotency_key.value = newKey();
      var body = new URLSearchParams(new FormData(form)).toString();
      var item = { key: form.elements.idempotency_key.value, action: form.getAttribute("action"), body: body, at: Date.now() };
      tx("readwrite", function (s) { return s.put(item); }).then(function () {
        form.reset();
        say(words("queued"));
        return flush();
      });
    });
    window.addEventListener("online", flush);
    setInterval(flush, 5000);
    flush();
  }

  var place = document.getElementById("place"), list = document.getElementById("places"), timer;
  if (place && list) {
    place.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (place.value.length < 2) return;
        fetch("/web/places?q=" + encodeURIComponent(place.value), { credentials: "same-origin" })
          .then(function (r) { return r.json(); }).then(function (d) {
            list.innerHTML = "";
            d.places.forEach(function (p) { var o = document.createElement("option"); o.value = p.name; o.label = p.region || ""; list.appendChild(o); });
          }).catch(function () {});
      }, 250);
    });
  }
  var pos = document.getElementById("use-position");
  if (pos && navigator.geolocation) {
    pos.hidden = false;
    pos.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        document.getElementById("lat").value = p.coords.latitude.toFixed(5);
        document.getElementById("lon").value = p.coords.longitude.toFixed(5);
      });
    });
  }

  var exit = document.getElementById("quick-exit-form");
  if (exit) {
    exit.addEventListener("submit", function (e) {
      e.preventDefault();
      var done = function () { exit.submit(); };
      var jobs = [];
      if (window.indexedDB) jobs.push(new Promise(function (ok) { var r = indexedDB.deleteDatabase(DB); r.onsuccess = r.onerror = r.onblocked = ok; }));
      if (window.caches) jobs.push(caches.keys().then(function (ks) { return Promise.all(ks.map(function (k) { return caches.delete(k); })); }));
      if (navigator.serviceWorker) jobs.push(navigator.serviceWorker.getRegistrations().then(function (rs) { return Promise.all(rs.map(function (r) { return r.unregister(); })); }));
      Promise.all(jobs).then(done, done);
    });
  }

  if ("serviceWorker" in navigator && form) {
    navigator.serviceWorker.register("/web/sw.js", { scope: "/web/" }).catch(function () {});
  }
})();
