/* Dashboards: draw each <canvas data-chart="id"> from the JSON of <script id="id"> with the vendored
   Chart.js. The data comes from analytics/views.py chart(): type, labels, datasets, format, stacked. */
(function () {
  "use strict";

  var lang = document.documentElement.lang || "zh-hans";
  var locale = lang.indexOf("zh") === 0 ? "zh-CN" : lang;
  var number = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  var money = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function formatter(kind) {
    if (kind === "money") return function (v) { return "¥" + money.format(v); };
    if (kind === "pct") return function (v) { return (v * 100).toFixed(1) + "%"; };
    return function (v) { return number.format(v); };
  }

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof Chart === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var fmt = formatter(spec.format);
    var datasets = spec.datasets.map(function (ds) {
      var type = ds.type || spec.type;
      return {
        type: type, label: ds.label, data: ds.data, borderColor: ds.color,
        backgroundColor: type === "line" ? alpha(ds.color, 0.12) : alpha(ds.color, 0.75),
        borderWidth: type === "line" ? 2 : 0, pointRadius: spec.labels.length > 60 ? 0 : 2,
        tension: 0.25, fill: false, order: type === "line" ? 0 : 1
      };
    });
    canvas.chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, usePointStyle: true } },
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + fmt(c.parsed.y); } } }
        },
        scales: {
          x: { stacked: spec.stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: spec.stacked, beginAtZero: true, ticks: { callback: fmt } }
        }
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (!canvas.chart) draw(canvas);
    });
    document.body.setAttribute("data-charts", "drawn");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
