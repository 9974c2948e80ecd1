// Officer console: live SMS preview and live delivery figures. The pages work without this file.
(function () {
  "use strict";
  function fill(template, values) {
    return template.replace(/%\((\w+)\)[ds]/g, function (_, k) { return String(values[k]); });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Broadcast: the server renders the SMS (the alerts package's GSM-7 encoder); this asks it.
  var form = document.getElementById("broadcast-form");
  var words = document.getElementById("officer-i18n");
  if (form && words && window.fetch && window.URLSearchParams) {
    var section = document.getElementById("preview"), body = document.getElementById("preview-body");
    var timer, asked = 0;
    var w = function (name) { return words.getAttribute("data-" + name) || ""; };
    var show = function (data) {
      body.textContent = "";
      data.languages.forEach(function (p) {
        var box = el("div", "sms-preview" + (p.cut ? " cut" : ""));
        box.setAttribute("data-lang", p.lang);
        box.appendChild(el("p", "hint", w(p.lang)));
        box.appendChild(el("p", "sms", p.sms));
        box.appendChild(el("p", "hint", fill(w("size"), p)));
        if (p.cut) {
          var warn = el("p", "error warn-cut", fill(w("cut"), { units: p.typed_units, alphabet: p.typed_alphabet, segments: p.typed_segments }));
          warn.setAttribute("role", "alert");
          box.appendChild(warn);
        }
        if (p.changed) box.appendChild(el("p", "hint", w("changed")));
        body.appendChild(box);
      });
      section.hidden = data.languages.length === 0;
    };
    var ask = function () {
      var mine = ++asked;
      var data = new URLSearchParams(new FormData(form));
      data.delete("action");
      fetch("/web/officer/broadcast/preview", {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        if (d && mine === asked) show(d);
      }).catch(function () {});
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(ask, 300); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    if (form.elements.text_fr.value || form.elements.text_en.value) ask();
    var button = document.getElementById("preview-button");
    if (button) button.hidden = true;
  }

  // Delivery view: the figures again every few seconds, without reloading the page.
  var view = document.getElementById("delivery");
  if (view && window.fetch) {
    var url = view.getAttribute("data-figures"), started = Date.now();
    var put = function (key, value) {
      var cell = view.querySelector('[data-key="' + key + '"]');
      if (cell && cell.textContent !== String(value)) cell.textContent = String(value);
    };
    var names = ["recipients", "sent", "delivered", "failed", "acknowledged"];
    var poll = function () {
      if (document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
          if (!d) return;
          d.organisations.forEach(function (o, i) { names.forEach(function (n) { put("org-" + i + "." + n, o[n]); }); });
          d.subscriptions.forEach(function (s, i) { names.forEach(function (n) { put("sub-" + i + "." + n, s[n]); }); });
          put("updated", d.updated);
        }).catch(function () {});
    };
    var every = setInterval(function () {
      if (Date.now() - started > 3600 * 1000) { clearInterval(every); return; }
      poll();
    }, 3000);
  }
})();
