// SLA countdowns: every element with data-due (ISO time) shows the time left.
(function () {
  function fmt(ms) {
    var late = ms < 0, s = Math.abs(ms) / 1000;
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (late ? "overdue by " : "") + h + " h " + m + " min" + (late ? "" : " left");
  }
  // Count from the server's clock (the page says what time it was there), not the
  // browser's, which may be off.
  var served = document.body.dataset.serverNow;
  var skew = served ? new Date(served) - Date.now() : 0;
  function tick() {
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var ms = new Date(el.dataset.due) - (Date.now() + skew);
      el.textContent = fmt(ms);
      el.classList.toggle("late", ms < 0);
    });
  }
  tick();
  setInterval(tick, 30000);
})();

// The decide form: choosing an outcome shows only that outcome's fields (without
// script the "Show the fields" button asks the server for the same page).
(function () {
  var choices = document.querySelectorAll("[data-outcome-choice]");
  var value = document.querySelector("[data-outcome-value]");
  if (!choices.length || !value) return;
  document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  function show(outcome) {
    value.value = outcome;
    document.querySelectorAll("fieldset[data-outcome]").forEach(function (set) {
      var on = set.dataset.outcome === outcome || (set.dataset.outcome === "any" && !!outcome);
      set.hidden = !on;
      set.disabled = !on;
    });
  }
  choices.forEach(function (radio) {
    radio.addEventListener("change", function () { if (radio.checked) show(radio.value); });
  });
})();

// The viewer's time zone: on the first visit, the browser's own zone (a cookie the server
// reads from the next page on; no reload, so nothing moves under the reader); the "Times in"
// form at the foot of every page changes it.
(function () {
  var select = document.getElementById("tz");
  if (!select || document.cookie.indexOf("console_tz=") !== -1 || !window.Intl) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || !select.querySelector('option[value="' + zone + '"]')) return;
  document.cookie = "console_tz=" + zone + "; path=/; max-age=31536000; samesite=lax" +
    (location.protocol === "https:" ? "; secure" : "");
})();
