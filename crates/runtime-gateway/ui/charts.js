// Small SVG charts for the modelrt admin UI: time axis, value axis with units, grid lines,
// a legend and a tooltip per point. No dependencies; no inline code (the page's CSP forbids it).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmtTime(ms, spanMs) {
    const d = new Date(ms);
    if (spanMs > 2 * 86400000) return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " +
      d.toLocaleTimeString([], { hour: "2-digit" });
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  let tip;
  function showTip(x, y, html) {
    if (!tip) { tip = document.createElement("div"); tip.className = "tip"; tip.setAttribute("role", "status"); document.body.appendChild(tip); }
    tip.textContent = "";
    html.forEach((line) => { const d = document.createElement("div"); d.textContent = line; tip.appendChild(d); });
    tip.hidden = false;
    tip.style.left = Math.min(x + 12, window.innerWidth - 200) + "px";
    tip.style.top = (y + 12) + "px";
  }
  function hideTip() { if (tip) tip.hidden = true; }

  // series: [{name, color, values: [number|null]}], times: [ms], unit: "ms" | "req" | "$" | ...
  function lineChart(container, opts) {
    const { title, times, series, unit, fmt } = opts;
    const f = fmt || ((v) => (v == null ? "–" : (Math.round(v * 100) / 100).toLocaleString() + (unit ? " " + unit : "")));
    container.textContent = "";
    const h3 = document.createElement("h3"); h3.textContent = title; container.appendChild(h3);
    const legend = document.createElement("div"); legend.className = "legend";
    series.forEach((s) => { const sp = document.createElement("span"); const i = document.createElement("i");
      i.style.background = s.color; sp.appendChild(i); sp.appendChild(document.createTextNode(s.name)); legend.appendChild(sp); });
    container.appendChild(legend);
    const W = 640, H = 220, L = 58, R = 12, T = 10, B = 26;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title + " chart", preserveAspectRatio: "none" });
    container.appendChild(svg);
    const all = series.flatMap((s) => s.values.filter((v) => v != null));
    const max = niceMax(Math.max(0, ...all));
    const n = times.length;
    const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4, yy = y(v);
      el("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: k === 0 ? "axis" : "grid" }, svg);
      const t = el("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, svg); t.textContent = f(v);
    }
    const span = n > 1 ? times[n - 1] - times[0] : 0;
    const ticks = Math.min(6, n);
    for (let k = 0; k < ticks; k++) {
      const i = Math.round((k * (n - 1)) / Math.max(1, ticks - 1));
      const t = el("text", { x: x(i), y: H - 8, "text-anchor": k === 0 ? "start" : k === ticks - 1 ? "end" : "middle" }, svg);
      t.textContent = fmtTime(times[i], span);
    }
    el("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }, svg);
    series.forEach((s) => {
      let d = "";
      s.values.forEach((v, i) => { if (v == null) return; d += (d && s.values[i - 1] != null ? "L" : "M") + x(i).toFixed(1) + "," + y(v).toFixed(1); });
      if (d) el("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }, svg);
      // A point with no neighbour draws no line: mark every value.
      s.values.forEach((v, i) => { if (v != null && v > 0) el("circle", { cx: x(i), cy: y(v), r: 2.5, fill: s.color }, svg); });
    });
    // One hover target per bucket: a tooltip with the bucket's time and every series' value.
    const colW = n > 1 ? (W - L - R) / (n - 1) : W - L - R;
    for (let i = 0; i < n; i++) {
      const r = el("rect", { x: x(i) - colW / 2, y: T, width: colW, height: H - T - B, fill: "transparent" }, svg);
      const lines = [new Date(times[i]).toLocaleString()].concat(series.map((s) => s.name + ": " + f(s.values[i])));
      el("title", {}, r).textContent = lines.join("\n");
      r.addEventListener("mousemove", (ev) => showTip(ev.clientX, ev.clientY, lines));
      r.addEventListener("mouseleave", hideTip);
    }
    if (all.length === 0) {
      const t = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg);
      t.textContent = "No requests in this window yet";
    }
  }

  // rows: [{label, value}], horizontal bars.
  function barChart(container, opts) {
    const { title, rows, fmt } = opts;
    container.textContent = "";
    const h3 = document.createElement("h3"); h3.textContent = title; container.appendChild(h3);
    if (!rows.length) { const p = document.createElement("p"); p.className = "empty"; p.textContent = "Nothing to show for this window."; container.appendChild(p); return; }
    const W = 640, rowH = 24, L = 150, R = 80, H = rows.length * rowH + 8;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title + " chart" });
    svg.style.height = H + "px";
    container.appendChild(svg);
    const max = niceMax(Math.max(...rows.map((r) => r.value)));
    rows.forEach((r, i) => {
      const yy = 4 + i * rowH;
      const lab = el("text", { x: L - 6, y: yy + 15, "text-anchor": "end" }, svg); lab.textContent = r.label.length > 22 ? r.label.slice(0, 21) + "…" : r.label;
      const w = ((W - L - R) * r.value) / max;
      const rect = el("rect", { x: L, y: yy + 3, width: Math.max(1, w), height: rowH - 8, rx: 3, fill: "var(--c1)" }, svg);
      el("title", {}, rect).textContent = r.label + ": " + fmt(r.value);
      const val = el("text", { x: L + w + 6, y: yy + 15 }, svg); val.textContent = fmt(r.value);
    });
  }
  window.Charts = { lineChart, barChart };
})();
