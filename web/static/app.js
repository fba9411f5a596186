// Hookline dashboard: live updates over Server-Sent Events, charts with
// uPlot. Everything works without this file too, only without live updates.
(function () {
  "use strict";

  var body = document.body;
  var status = document.getElementById("live-status");
  var WINDOW = 15 * 60; // seconds the charts show

  // Select a revealed secret on focus, for copying.
  document.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });

  if (!body.dataset.live || !window.EventSource) return;

  function say(text) { if (status) status.textContent = text; }

  // ---- Figures and charts of the overview -------------------------------

  function fmtRate(v) { return v == null ? "—" : v.toFixed(v < 10 ? 2 : 1) + "/s"; }
  function fmtPct(v) { return v == null ? "—" : (v * 100).toFixed(1) + "%"; }
  function fmtMS(v) {
    if (v == null) return "—";
    if (v < 10) return v.toFixed(2) + " ms";
    if (v < 10000) return v.toFixed(0) + " ms";
    return (v / 1000).toFixed(1) + " s";
  }
  function fmtNum(v) { return v == null ? "—" : String(v); }

  function setStat(name, text) {
    var el = document.querySelector('[data-stat="' + name + '"]');
    if (!el) return;
    var target = el.querySelector("a") || el;
    if (target.textContent !== text) target.textContent = text;
  }

  function updateFigures(st) {
    if (!st) return;
    var lat = st.latency_ms || {};
    setStat("rate", fmtRate(st.deliveries_per_second));
    setStat("success", fmtPct(st.success_rate));
    setStat("p50", fmtMS(lat.p50));
    setStat("p99", fmtMS(lat.p99));
    setStat("pending", fmtNum(st.pending));
    setStat("failed", fmtNum(st.failed));
    setStat("endpoints", fmtNum(st.endpoints));
    var c = st.endpoints_by_circuit;
    setStat("circuits", c ? fmtNum(c.closed) + " / " + fmtNum(c.open) + " / " + fmtNum(c.half_open) : "—");
    setStat("disabled", fmtNum(st.endpoints_disabled));
  }

  // Colours chosen for contrast on white (each at least 4.5:1).
  var charts = {
    rate: { series: [["rate", "deliveries/s", "#1a56db"]] },
    success: { series: [["success", "success %", "#047857"]], range: [0, 100] },
    latency: { series: [["p50", "p50 ms", "#1a56db"], ["p99", "p99 ms", "#b42318"]] },
    backlog: { series: [["pending", "pending", "#7a4b00"], ["failed", "dead letters", "#b42318"]] },
    circuits: { series: [["closed", "closed", "#047857"], ["open", "open", "#b42318"], ["half_open", "half-open", "#7a4b00"]] }
  };
  var cols = null; // column arrays by name, as the server sends them

  function makeCharts() {
    if (!window.uPlot) return;
    Object.keys(charts).forEach(function (name) {
      var el = document.querySelector('[data-chart="' + name + '"]');
      if (!el) return;
      var c = charts[name];
      var opts = {
        width: Math.max(el.clientWidth, 280),
        height: 180,
        series: [{}].concat(c.series.map(function (s) {
          return { label: s[1], stroke: s[2], width: 2, spanGaps: false };
        })),
        axes: [{ stroke: "#333" }, { stroke: "#333", size: 60 }],
        scales: c.range ? { y: { range: c.range } } : {},
        legend: { show: true },
        cursor: { drag: { x: false, y: false } }
      };
      c.plot = new uPlot(opts, data(c), el);
      el.dataset.ready = "1";
    });
    window.addEventListener("resize", function () {
      Object.keys(charts).forEach(function (name) {
        var c = charts[name], el = document.querySelector('[data-chart="' + name + '"]');
        if (c.plot && el) c.plot.setSize({ width: Math.max(el.clientWidth, 280), height: 180 });
      });
    });
  }

  function data(c) {
    return [cols.t].concat(c.series.map(function (s) { return cols[s[0]]; }));
  }

  function redraw() {
    Object.keys(charts).forEach(function (name) {
      var c = charts[name];
      if (c.plot) c.plot.setData(data(c));
    });
  }

  function addPoint(point) {
    if (!cols) return;
    Object.keys(cols).forEach(function (k) { cols[k].push(point[k] ? point[k][0] : null); });
    var cutoff = cols.t[cols.t.length - 1] - WINDOW;
    var drop = 0;
    while (drop < cols.t.length && cols.t[drop] < cutoff) drop++;
    if (drop) Object.keys(cols).forEach(function (k) { cols[k].splice(0, drop); });
    redraw();
  }

  // ---- Refreshing the tables of the other pages --------------------------
  // A table is refreshed only when the store's counts moved, and never while
  // the person is using it (pointer over it, focus or a selection in it):
  // the refresh waits until they stop.

  var region = document.getElementById("live-region");
  var pending = false, inflight = false, pointerIn = false, lastVersion = null;

  function interacting() {
    if (!region) return false;
    if (pointerIn || region.contains(document.activeElement)) return true;
    var sel = window.getSelection && window.getSelection();
    return !!(sel && !sel.isCollapsed && region.contains(sel.anchorNode));
  }

  function refresh() {
    if (!region) return;
    if (interacting()) {
      pending = true;
      say("Paused while you use the table");
      return;
    }
    if (inflight) { pending = true; return; }
    pending = false;
    inflight = true;
    var url = new URL(location.href);
    url.searchParams.set("fragment", "1");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        if (interacting()) { pending = true; return; }
        region.innerHTML = html;
        region.dataset.refreshed = String(Number(region.dataset.refreshed || 0) + 1);
        say("Live");
      })
      .catch(function () { say("Live (refresh failed; retrying)"); pending = true; })
      .then(function () { inflight = false; });
  }

  function resume() {
    if (pending && !interacting()) refresh();
    else if (!pending) say("Live");
  }

  if (region) {
    region.addEventListener("pointerenter", function () { pointerIn = true; });
    region.addEventListener("pointerleave", function () { pointerIn = false; setTimeout(resume, 0); });
    region.addEventListener("focusout", function () { setTimeout(resume, 0); });
    document.addEventListener("selectionchange", function () { if (pending) setTimeout(resume, 0); });
  }

  // ---- The stream --------------------------------------------------------

  var es = new EventSource(body.dataset.live);
  es.onopen = function () { say(pending ? "Paused while you use the table" : "Live"); };
  es.onerror = function () { say("Reconnecting…"); };
  es.addEventListener("snapshot", function (e) {
    cols = JSON.parse(e.data).series;
    Object.keys(cols).forEach(function (k) { cols[k] = cols[k] || []; });
    makeCharts();
  });
  es.addEventListener("sample", function (e) {
    var m = JSON.parse(e.data);
    updateFigures(m.stats);
    addPoint(m.point);
    if (m.version !== lastVersion) refresh(); // the first one too: the page may predate it
    lastVersion = m.version;
  });
  es.addEventListener("changed", function () { refresh(); });
})();
