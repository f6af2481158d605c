// Kizuna — small progressive enhancements. No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  // htmx requests carry the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.dataset.csrf;
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  // Charts: <canvas data-chart="id-of-a-json-script"> reads its config from
  // <script type="application/json" id="…">{type, data, options}</script>, or from its own
  // data-chart-config attribute (fragments swapped in by htmx: htmx drops their <script>s).
  function drawCharts(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var source = document.getElementById(canvas.dataset.chart);
      var text = source ? source.textContent : canvas.dataset.chartConfig;
      if (!text) { return; }
      var config = JSON.parse(text);
      var meta = config.kizuna || {};
      delete config.kizuna;
      config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
      if (meta.money_axes && meta.money_axes.length) { moneyAxes(config, meta.money, meta.money_axes); }
      if (meta.partial_last) { partialLast(config); }
      new Chart(canvas, config);
      canvas.dataset.drawn = "1";
    });
  }
  // Money on an axis: ¥600万 / 600万円 in Japanese, ¥6M in English (short), and in full
  // in the tooltip. Values arrive in minor units of the currency.
  function moneyFormats(money) {
    var scale = Math.pow(10, money.exponent || 0);
    var full = new Intl.NumberFormat(money.locale, { style: "currency", currency: money.currency });
    var yen = money.currency === "JPY" && money.locale.indexOf("ja") === 0;
    var compact = yen
      ? new Intl.NumberFormat(money.locale, { notation: "compact", maximumFractionDigits: 1 })
      : new Intl.NumberFormat(money.locale, { style: "currency", currency: money.currency, notation: "compact", maximumFractionDigits: 1 });
    return {
      tick: function (value) {
        var major = Number(value) / scale;
        if (yen) { return compact.format(major) + "円"; }
        return compact.format(major);
      },
      full: function (value) { return full.format(Number(value) / scale); }
    };
  }
  function moneyAxes(config, money, axes) {
    var f = moneyFormats(money);
    var scales = config.options.scales = config.options.scales || {};
    axes.forEach(function (axis) {
      var scale = scales[axis] = scales[axis] || {};
      scale.ticks = Object.assign({}, scale.ticks || {}, { callback: function (value) { return f.tick(value); } });
    });
    var plugins = config.options.plugins = config.options.plugins || {};
    plugins.tooltip = Object.assign({}, plugins.tooltip || {}, { callbacks: { label: function (ctx) {
      var y = ctx.parsed && typeof ctx.parsed.y === "number" ? ctx.parsed.y : ctx.raw;
      return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + f.full(y);
    } } });
  }
  // The month still running: its bars lighter, the line to its point dashed.
  function partialLast(config) {
    var labels = (config.data && config.data.labels) || [];
    var last = labels.length - 1;
    if (last < 0) { return; }
    (config.data.datasets || []).forEach(function (ds) {
      var type = ds.type || config.type;
      if (type === "bar") {
        var colour = ds.backgroundColor;
        if (typeof colour === "string") {
          ds.backgroundColor = labels.map(function (_, i) { return i === last ? colour + "55" : colour; });
        }
      } else if (type === "line") {
        ds.segment = { borderDash: function (ctx) { return ctx.p1DataIndex === last ? [4, 4] : undefined; } };
        ds.pointBackgroundColor = labels.map(function (_, i) { return i === last ? "#fff" : ds.borderColor; });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawCharts(event.target); });

  // Filter forms submit on change (a plain submit button stays for no-JS use).
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form) { form.requestSubmit(); }
  });
})();

// Forms answered with 422 (validation errors) swap the re-rendered form in: the server
// names the target with HX-Retarget. Other error statuses keep htmx's default (no swap).
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 422 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();

// The menu button (phone widths): opens and closes the navigation. Without JavaScript the
// menu stays open (the stylesheet shows it unless <html> has the "js" class).
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".menu-toggle");
    if (!button) { return; }
    var header = button.closest("header.top");
    var open = !header.classList.contains("open");
    header.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
