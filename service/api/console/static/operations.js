// The operations page's chart: decisions per day by outcome, stacked bars drawn by
// Chart.js (vendored, served by the console: no CDN, no inline script), with axes, a
// legend and each bar's values. The figures come from the canvas's data-chart attribute.
(function () {
  var canvas = document.getElementById("decisions-chart");
  if (!canvas || !window.Chart) return;
  var data = JSON.parse(canvas.dataset.chart);
  var colours = {
    approved: "#1e6b3a", rejected: "#b3261e", escalated: "#8a5a00",
    pending_info: "#1f4e9c", closed: "#5b6575"
  };
  var values = {
    id: "values",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      chart.data.datasets.forEach(function (set, i) {
        var meta = chart.getDatasetMeta(i);
        if (meta.hidden) return;
        meta.data.forEach(function (bar, j) {
          var n = set.data[j];
          if (!n || Math.abs(bar.base - bar.y) < 12) return;
          ctx.fillStyle = "#fff";
          ctx.fillText(String(n), bar.x, (bar.y + bar.base) / 2);
        });
      });
      ctx.restore();
    }
  };
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.days.map(function (d) { return d.slice(5); }),
      datasets: data.outcomes.map(function (o) {
        return { label: o, data: data.series[o], backgroundColor: colours[o] || "#444" };
      })
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { stacked: true, title: { display: true, text: "Day (UTC, month-day)" } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
             title: { display: true, text: "Decisions" } }
      },
      plugins: { legend: { position: "bottom" } }
    },
    plugins: [values]
  });
})();
