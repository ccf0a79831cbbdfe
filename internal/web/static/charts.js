// emgd dashboard: trend charts drawn as inline SVG, no library. Each chart
// is a <figure> with a caption, the SVG (role img, a spoken summary, a
// <title> on every bar and point), a legend that tells series apart by
// shape and line style as well as colour, and the figures as a table.
'use strict';

window.emgdCharts = (function () {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 640, PAD = { l: 66, r: 14, t: 12, b: 34 };

  function svgEl(tag, attrs, ...children) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v != null && v !== false) e.setAttribute(k, String(v));
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function htmlEl(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function title(text) {
    return svgEl('title', {}, text);
  }

  function ticks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / n;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  // tick prints an axis value: three significant digits, tiny or huge
  // ones in exponent form.
  function tick(v) {
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a < 1e-3 || a >= 1e6) return v.toExponential(1);
    return String(+v.toPrecision(3));
  }

  // frame draws the axes, the grid and the category labels, and returns
  // the scales.
  function frame(svg, o, lo, hi) {
    const H = o.height || 220;
    const n = o.categories.length;
    const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
    const step = iw / Math.max(1, n);
    const X = (i) => PAD.l + step * (i + 0.5);
    const Y = (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * ih;
    const g = svgEl('g', { class: 'axis' });
    for (const v of ticks(lo, hi, 4)) {
      const y = Y(v);
      g.append(svgEl('line', { class: 'grid', x1: PAD.l, x2: W - PAD.r, y1: y, y2: y }),
        svgEl('text', { x: PAD.l - 6, y: y + 4, 'text-anchor': 'end' }, (o.tickFormat || tick)(v)));
    }
    g.append(svgEl('line', { class: 'baseline', x1: PAD.l, x2: W - PAD.r, y1: PAD.t + ih, y2: PAD.t + ih }),
      svgEl('line', { class: 'baseline', x1: PAD.l, x2: PAD.l, y1: PAD.t, y2: PAD.t + ih }));
    const every = Math.max(1, Math.ceil(n / 12));
    o.categories.forEach((c, i) => {
      if (i % every !== 0 && i !== n - 1) return;
      g.append(svgEl('text', { x: X(i), y: PAD.t + ih + 16, 'text-anchor': 'middle' }, c.label));
      if (c.sub) g.append(svgEl('text', { class: 'sub', x: X(i), y: PAD.t + ih + 29, 'text-anchor': 'middle' }, c.sub));
    });
    if (o.yLabel) {
      g.append(svgEl('text', { class: 'ylabel', x: 11, y: PAD.t + ih / 2, 'text-anchor': 'middle', transform: 'rotate(-90 11 ' + (PAD.t + ih / 2) + ')' }, o.yLabel));
    }
    svg.append(g);
    return { X, Y, step, ih, H, lo, hi };
  }

  function range(values, o) {
    let lo = o.yMin != null ? o.yMin : Infinity, hi = o.yMax != null ? o.yMax : -Infinity;
    for (const v of values) {
      if (v == null || !isFinite(v)) continue;
      if (o.yMin == null) lo = Math.min(lo, v);
      if (o.yMax == null || o.yMaxAtLeast) hi = Math.max(hi, v);
    }
    if (!isFinite(lo)) lo = 0;
    if (!isFinite(hi)) hi = 1;
    if (o.yMin == null && lo > 0 && o.zero) lo = 0;
    if (hi === lo) { hi = lo === 0 ? 1 : hi + Math.abs(hi) * 0.1; if (o.yMin == null) lo -= Math.abs(lo) * 0.1; }
    if (o.yMax == null) hi += (hi - lo) * 0.08;
    return [lo, hi];
  }

  // marker is a point of series s: a shape per series (circle, square,
  // triangle, diamond), filled or hollow.
  function marker(s, x, y, hollow) {
    const cls = 'point s' + s + (hollow ? ' hollow' : '');
    switch (s % 4) {
      case 1: return svgEl('rect', { class: cls, x: x - 4, y: y - 4, width: 8, height: 8 });
      case 2: return svgEl('path', { class: cls, d: 'M' + x + ' ' + (y - 5) + 'L' + (x + 5) + ' ' + (y + 4) + 'L' + (x - 5) + ' ' + (y + 4) + 'Z' });
      case 3: return svgEl('path', { class: cls, d: 'M' + x + ' ' + (y - 5.5) + 'L' + (x + 5.5) + ' ' + y + 'L' + x + ' ' + (y + 5.5) + 'L' + (x - 5.5) + ' ' + y + 'Z' });
    }
    return svgEl('circle', { class: cls, cx: x, cy: y, r: 4.5 });
  }

  function legendKey(kind, s, hollow) {
    const k = svgEl('svg', { class: 'key', viewBox: '0 0 28 14', width: 28, height: 14, 'aria-hidden': 'true', focusable: 'false' });
    if (kind === 'line') {
      k.append(svgEl('line', { class: 'line s' + s, x1: 1, x2: 27, y1: 7, y2: 7 }), marker(s, 14, 7, hollow));
    } else if (kind === 'target') {
      k.append(svgEl('line', { class: 'target', x1: 2, x2: 26, y1: 7, y2: 7 }));
    } else if (kind === 'outline') {
      k.append(svgEl('rect', { class: 'bar outline', x: 7, y: 1, width: 14, height: 12 }));
    } else {
      k.append(svgEl('rect', { class: 'bar b' + s, x: 7, y: 1, width: 14, height: 12 }));
    }
    return k;
  }

  // figure wraps a chart: caption, SVG, legend, and the data as a table
  // (folded away) for keyboards and screen readers.
  function figure(o, svg, legend, table) {
    const fig = htmlEl('figure', { class: 'trend', 'data-chart': o.id });
    fig.append(htmlEl('figcaption', {}, htmlEl('strong', { text: o.title }), o.note ? htmlEl('span', { class: 'muted', text: ' ' + o.note }) : null));
    fig.append(svg);
    if (legend.length) fig.append(htmlEl('ul', { class: 'chart-legend' }, ...legend.map(([key, text]) => htmlEl('li', {}, key, ' ' + text))));
    fig.append(htmlEl('details', { class: 'chart-data' }, htmlEl('summary', { text: 'Figures as a table' }), table));
    return fig;
  }

  function dataTable(o, columns) {
    const t = htmlEl('table', { class: 'data' });
    t.append(htmlEl('thead', {}, htmlEl('tr', {}, htmlEl('th', { scope: 'col', text: o.categoryName || 'Session' }),
      ...columns.map((c) => htmlEl('th', { scope: 'col', class: 'num', text: c.name })))));
    const body = htmlEl('tbody');
    o.categories.forEach((cat, i) => {
      body.append(htmlEl('tr', {}, htmlEl('th', { scope: 'row', text: cat.full || cat.label }),
        ...columns.map((c) => htmlEl('td', { class: 'num', text: c.values[i] == null ? '–' : (o.format || tick)(c.values[i]) + (c.suffix ? c.suffix(i) : '') }))));
    });
    t.append(body);
    return t;
  }

  function newSVG(o, H) {
    return svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'trend-svg', role: 'img', 'data-chart': o.id,
      'aria-label': o.title + (o.summary ? ': ' + o.summary : ''), preserveAspectRatio: 'xMidYMid meet' });
  }

  // bars draws grouped bars per category (o.series: {name, values}) and,
  // when o.target is given, a dashed target line across each group.
  function bars(o) {
    const H = o.height || 220;
    const svg = newSVG(o, H);
    const all = [];
    for (const s of o.series) all.push(...s.values);
    if (o.target) all.push(...o.target.values);
    const [lo, hi] = range(all, Object.assign({ zero: true, yMin: 0 }, o));
    const f = frame(svg, o, lo, hi);
    const groupW = Math.min(f.step * 0.7, 90);
    const bw = groupW / o.series.length;
    const fmt = o.format || tick;
    const g = svgEl('g', { class: 'data' });
    o.categories.forEach((cat, i) => {
      const x0 = f.X(i) - groupW / 2;
      o.series.forEach((s, j) => {
        const v = s.values[i];
        if (v == null || !isFinite(v)) return;
        const y = f.Y(Math.max(lo, v)), y0 = f.Y(lo);
        const h = Math.max(v > 0 ? 1.5 : 0.75, y0 - y);
        g.append(svgEl('rect', { class: 'bar b' + (s.style != null ? s.style : j), x: x0 + j * bw + 1, y: y0 - h, width: Math.max(1, bw - 2), height: h, 'data-value': v },
          title((cat.full || cat.label) + ': ' + s.name + ' ' + fmt(v) + (o.target && o.target.values[i] != null ? ' (' + o.target.name + ' ' + fmt(o.target.values[i]) + ')' : ''))));
      });
      if (o.target && o.target.values[i] != null) {
        const y = f.Y(o.target.values[i]);
        g.append(svgEl('line', { class: 'target', x1: x0 - 4, x2: x0 + groupW + 4, y1: y, y2: y, 'data-value': o.target.values[i] },
          title((cat.full || cat.label) + ': ' + o.target.name + ' ' + fmt(o.target.values[i]))));
      }
    });
    svg.append(g);
    const legend = o.series.map((s, j) => [legendKey('bar', s.style != null ? s.style : j), s.name]);
    if (o.target) legend.push([legendKey('target'), o.target.name + ' (dashed line)']);
    const cols = o.series.map((s) => ({ name: s.name, values: s.values }));
    if (o.target) cols.push({ name: o.target.name, values: o.target.values });
    return figure(o, svg, legend, dataTable(o, cols));
  }

  // lines draws a line per series (o.series: {name, values, hollow?})
  // with a marker at every value, so one session is a visible point.
  function lines(o) {
    const H = o.height || 220;
    const svg = newSVG(o, H);
    const all = [];
    for (const s of o.series) all.push(...s.values);
    const [lo, hi] = range(all, o);
    const f = frame(svg, o, lo, hi);
    const fmt = o.format || tick;
    const g = svgEl('g', { class: 'data' });
    o.series.forEach((s, j) => {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (v == null || !isFinite(v)) { pen = false; return; }
        d += (pen ? 'L' : 'M') + f.X(i).toFixed(1) + ' ' + f.Y(v).toFixed(1);
        pen = true;
      });
      if (d) g.append(svgEl('path', { class: 'line s' + j, d }));
    });
    o.series.forEach((s, j) => {
      s.values.forEach((v, i) => {
        if (v == null || !isFinite(v)) return;
        const cat = o.categories[i];
        const m = marker(j, f.X(i), f.Y(v), s.hollow && s.hollow[i]);
        m.setAttribute('data-value', String(v));
        m.append(title((cat.full || cat.label) + ': ' + s.name + ' ' + fmt(v) + (s.notes && s.notes[i] ? ' (' + s.notes[i] + ')' : '')));
        g.append(m);
      });
    });
    svg.append(g);
    const legend = o.series.map((s, j) => [legendKey('line', j, false), s.name]);
    if (o.hollowNote) legend.push([legendKey('line', 0, true), o.hollowNote]);
    return figure(o, svg, legend, dataTable(o, o.series.map((s) => ({ name: s.name, values: s.values,
      suffix: s.notes ? (i) => (s.notes[i] ? ' (' + s.notes[i] + ')' : '') : null }))));
  }

  return { bars, lines };
})();
