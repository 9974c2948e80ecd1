// Subscriptions page: show only the area fields of the chosen kind, suggest the places of a
// route as they are typed. The form works without this file.
(function () {
  "use strict";
  var form = document.getElementById("subscribe-form");
  if (!form) return;
  document.documentElement.className += " js";
  function show() {
    var kind = (form.querySelector("input[name=area_kind]:checked") || {}).value;
    Array.prototype.forEach.call(form.querySelectorAll(".area"), function (el) {
      el.className = el.getAttribute("data-kind") === kind ? "area shown" : "area";
    });
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=area_kind]"), function (r) {
    r.addEventListener("change", show);
  });
  show();

  var channel = document.getElementById("channel"), fresh = document.getElementById("new_channel");
  function toggle() { fresh.disabled = channel.value !== "new"; }
  if (channel && fresh) { channel.addEventListener("change", toggle); toggle(); }

  // The route: suggestions for the place being typed, after the ones already written.
  var route = document.getElementById("route_places"), list = document.getElementById("route-list"), timer;
  if (route && list && window.fetch) {
    route.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var parts = route.value.split(/\s*(?:→|->|,|;|\/)\s*/), last = parts.pop() || "";
        if (last.length < 2) return;
        var before = parts.length ? parts.join(" → ") + " → " : "";
        fetch("/web/places?q=" + encodeURIComponent(last), { credentials: "same-origin" })
          .then(function (r) { return r.json(); }).then(function (d) {
            list.innerHTML = "";
            d.places.forEach(function (p) {
              var o = document.createElement("option");
              o.value = before + p.name; o.label = p.region || "";
              list.appendChild(o);
            });
          }).catch(function () {});
      }, 250);
    });
  }
})();
