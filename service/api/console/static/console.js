// SLA countdowns: every element with data-due (ISO time) shows the time left.
(function () {
  function fmt(ms) {
    var late = ms < 0, s = Math.abs(ms) / 1000;
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (late ? "overdue by " : "") + h + " h " + m + " min" + (late ? "" : " left");
  }
  function tick() {
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var ms = new Date(el.dataset.due) - new Date();
      el.textContent = fmt(ms);
      el.classList.toggle("late", ms < 0);
    });
  }
  tick();
  setInterval(tick, 30000);
})();
