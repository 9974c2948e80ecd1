// Subscriptions page: show only the area fields of the chosen kind; the form works without this.
(function () {
  "use strict";
  var form = document.getElementById("subscribe-form");
  if (!form) return;
  document.documentElement.className += " js";
  var radios = form.querySelectorAll("input[name=area_kind]");
  function show() {
    var kind = (form.querySelector("input[name=area_kind]:checked") || {}).value;
    Array.prototype.forEach.call(form.querySelectorAll(".area"), function (el) {
      el.className = el.getAttribute("data-kind") === kind ? "area shown" : "area";
    });
  }
  Array.prototype.forEach.call(radios, function (r) { r.addEventListener("change", show); });
  show();
  var channel = document.getElementById("channel"), fresh = document.getElementById("new_channel");
  function toggle() { fresh.disabled = channel.value !== "new"; }
  if (channel && fresh) { channel.addEventListener("change", toggle); toggle(); }
})();
