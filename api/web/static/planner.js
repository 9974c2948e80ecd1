// Planner pages: the risk map (Leaflet, vector outlines from this server) and the route form's
// place fields. Progressive only: without this file the map page lists the zones and the route
// form adds and removes places by submitting.
(function () {
  "use strict";

  function json(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }

  var el = document.getElementById("map");
  if (el && window.L) {
    el.hidden = false;
    var map = L.map(el, { zoomSnap: 0.25, minZoom: 4, maxZoom: 12, preferCanvas: false, attributionControl: true });
    map.attributionControl.setPrefix(false);
    map.fitBounds([[10.1, -12.3], [25.1, 4.3]]);
    var tiles = el.getAttribute("data-tiles");
    if (tiles) L.tileLayer(tiles, { maxZoom: 12 }).addTo(map);
    var openText = el.getAttribute("data-open"), levelText = el.getAttribute("data-level");

    drawBase(map, el.getAttribute("data-base")).then(function (base) {
      L.geoJSON(base, {
        filter: function (f) { return f.properties.layer === "town"; },
        pointToLayer: function (f, at) {
          var m = L.circleMarker(at, { radius: f.properties.big ? 3.5 : 2, className: "town", interactive: false });
          if (f.properties.big) m.bindTooltip(f.properties.name, { permanent: true, direction: "right", className: "town-label", offset: [3, 0] });
          return m;
        }
      }).addTo(map);
    }).catch(function () {});

    json(el.getAttribute("data-zones")).then(function (zones) {
      var layer = L.geoJSON(zones, {
        style: function (f) {
          var lvl = f.properties.level ? " lvl-" + f.properties.level : "";
          return { className: "zone kind-" + f.properties.kind + lvl };
        },
        onEachFeature: function (f, l) {
          var box = document.createElement("div");
          var name = document.createElement("strong");
          name.textContent = f.properties.name;
          box.appendChild(name);
          if (f.properties.level) {
            var p = document.createElement("p");
            var badge = document.createElement("span");
            badge.className = "lvl lvl-" + f.properties.level;
            badge.textContent = levelText + " " + f.properties.level + " · " + f.properties.level_label;
            p.appendChild(badge);
            box.appendChild(p);
          }
          var a = document.createElement("a");
          a.href = "/web/zones/" + encodeURIComponent(f.id);
          a.textContent = openText;
          box.appendChild(a);
          l.bindPopup(box);
        }
      }).addTo(map);
      el.setAttribute("data-loaded", String(zones.features.length));
      return layer;
    }).catch(function () { el.setAttribute("data-loaded", "error"); });
  }

  function drawBase(map, url) {
    return json(url).then(function (base) {
      L.geoJSON(base, {
        filter: function (f) { return f.properties.layer !== "town"; },
        style: function (f) { return { className: f.properties.layer, interactive: false }; }
      }).addTo(map).bringToBack();
      return base;
    });
  }

  // The checked route: its stretches coloured by level, its places named.
  var routeEl = document.getElementById("route-map");
  if (routeEl && window.L) {
    var route = JSON.parse(routeEl.getAttribute("data-route"));
    routeEl.hidden = false;
    var rmap = L.map(routeEl, { zoomSnap: 0.25, maxZoom: 12, attributionControl: false });
    drawBase(rmap, routeEl.getAttribute("data-base")).catch(function () {});
    var bounds = [];
    route.stretches.forEach(function (s) {
      var pts = s.line.map(function (c) { bounds.push([c[1], c[0]]); return [c[1], c[0]]; });
      L.polyline(pts, { className: "stretch lvl-" + s.level, interactive: false }).addTo(rmap);
    });
    route.places.forEach(function (p) {
      L.circleMarker([p.at[1], p.at[0]], { radius: 5, className: "stop-dot", interactive: false })
        .bindTooltip(p.name, { permanent: true, direction: "right", className: "town-label", offset: [4, 0] })
        .addTo(rmap);
    });
    if (bounds.length) rmap.fitBounds(bounds, { padding: [24, 24] });
    routeEl.setAttribute("data-loaded", String(route.stretches.length));
  }

  // Route form: add and remove place fields here; type-ahead from the gazetteer.
  var form = document.getElementById("route-form");
  if (!form) return;
  var stops = document.getElementById("stops"), list = document.getElementById("places");
  var words = document.getElementById("route-words");
  function word(n) { return words ? words.getAttribute("data-" + n) : ""; }
  function renumber() {
    var items = stops.querySelectorAll("li.stop");
    Array.prototype.forEach.call(items, function (li, k) {
      var input = li.querySelector("input"), label = li.querySelector("label");
      input.id = "place-" + k;
      label.setAttribute("for", input.id);
      label.textContent = k === 0 ? word("start") : (k === items.length - 1 ? word("end") : word("then"));
      var remove = li.querySelector("button.remove");
      if (items.length > 2 && !remove) {
        remove = document.createElement("button");
        remove.type = "submit"; remove.name = "remove"; remove.className = "remove secondary";
        remove.setAttribute("aria-label", word("remove")); remove.textContent = "✕";
        li.querySelector(".stop-row").appendChild(remove);
      } else if (items.length <= 2 && remove) {
        remove.parentNode.removeChild(remove);
      }
      if (remove) remove.value = String(k);
    });
  }
  form.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button") : null;
    if (!b) return;
    if (b.name === "remove") {
      e.preventDefault();
      var li = b.closest("li.stop");
      li.parentNode.removeChild(li);
      renumber();
    } else if (b.name === "add") {
      e.preventDefault();
      var items = stops.querySelectorAll("li.stop");
      if (items.length >= 10) return;
      var last = items[items.length - 1], copy = last.cloneNode(true);
      var err = copy.querySelector(".error");
      if (err) err.parentNode.removeChild(err);
      var input = copy.querySelector("input");
      input.value = ""; input.removeAttribute("aria-invalid"); input.removeAttribute("aria-describedby");
      stops.appendChild(copy);
      renumber();
      input.focus();
    }
  });
  var timer;
  form.addEventListener("input", function (e) {
    var input = e.target;
    if (!input || input.name !== "place" || !list) return;
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (input.value.length < 2) return;
      json("/web/places?q=" + encodeURIComponent(input.value)).then(function (d) {
        list.innerHTML = "";
        d.places.forEach(function (p) { var o = document.createElement("option"); o.value = p.name; o.label = p.region || ""; list.appendChild(o); });
      }).catch(function () {});
    }, 250);
  });
})();
