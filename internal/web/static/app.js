// emgd dashboard: session list, session view with signal charts, upload.
// Plain JavaScript, no libraries; reads the JSON API of the same server.
'use strict';

(function () {
  const $ = (sel) => document.querySelector(sel);
  const TOKEN_KEY = 'emgd.token';
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let timers = [];
  let routeGen = 0;

  // ---------- helpers ----------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) {
      if (c == null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function authHeaders() {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path) {
    let r;
    try {
      r = await fetch(path, { headers: authHeaders() });
    } catch (e) {
      throw new APIError(0, 'The server cannot be reached (' + e.message + ').');
    }
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) throw new APIError(r.status, (body && (body.error || body.detail)) || (r.status + ' ' + r.statusText));
    return body;
  }

  function notice(msg) {
    const n = $('#notice');
    n.textContent = msg || '';
    n.hidden = !msg;
  }

  function explain(err) {
    if (err.status === 401) {
      $('#token').focus();
      return 'This server asks for an access token: enter it at the top of the page and press Use.';
    }
    return err.message;
  }

  // Polls (the list, a session being analysed) run only while the tab is
  // visible: a poll due while it is hidden waits, and runs as soon as the
  // tab is shown again.
  let parked = [];

  function later(fn, ms) {
    const gen = routeGen;
    const id = setTimeout(() => {
      timers = timers.filter((t) => t !== id);
      if (gen !== routeGen) return;
      if (document.visibilityState === 'hidden') parked.push(fn);
      else fn();
    }, ms);
    timers.push(id);
  }

  function clearTimers() {
    timers.forEach(clearTimeout);
    timers = [];
    parked = [];
  }

  function resumeParked() {
    if (document.visibilityState === 'hidden') return;
    const fns = parked;
    parked = [];
    fns.forEach((fn) => fn());
  }

  // num prints a measured value with three significant digits (0.0123,
  // 0.500, 12.3, 320), very small or large ones in exponent form: a value
  // of 0.01-1 keeps its digits instead of printing as 0.0.
  function num(v) {
    if (v == null || typeof v !== 'number' || !isFinite(v)) return '–';
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a < 1e-4 || a >= 1e6) return v.toExponential(2);
    const decimals = Math.max(0, Math.min(6, 2 - Math.floor(Math.log10(a))));
    return v.toFixed(decimals);
  }

  // count prints a count (an integer) as it is, anything else as num.
  function count(v) {
    return Number.isInteger(v) ? String(v) : num(v);
  }

  // seconds prints a time in seconds with the decimals that tell apart the
  // ends of a window span seconds wide.
  function seconds(v, span) {
    if (v == null || !isFinite(v)) return '–';
    const d = span > 0 ? Math.max(1, Math.min(4, 2 - Math.floor(Math.log10(span)))) : 2;
    return v.toFixed(d);
  }

  // deviceTime is the recording's time as the tablet's clock read it (no
  // zone is recorded): shown as is, labelled as the device's local time.
  function deviceTime(s) {
    if (!s) return '–';
    return String(s).replace('T', ' ').replace(/:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$/, '');
  }

  const pad = (n) => String(n).padStart(2, '0');
  let zoneName = null;

  // viewerZone names the viewer's time zone (Europe/Brussels, UTC).
  function viewerZone() {
    if (zoneName == null) {
      try { zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { zoneName = ''; }
      if (!zoneName) {
        const off = -new Date().getTimezoneOffset();
        zoneName = 'UTC' + (off >= 0 ? '+' : '-') + pad(Math.floor(Math.abs(off) / 60)) + ':' + pad(Math.abs(off) % 60);
      }
    }
    return zoneName;
  }

  // serverTime is a time the server recorded (UTC) in the viewer's zone,
  // the zone named.
  function serverTime(s) {
    if (!s) return null;
    const d = new Date(s);
    if (isNaN(d.getTime())) return String(s);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) +
      ' (' + viewerZone() + ')';
  }

  function statusBadge(s) {
    return el('span', { class: 'status st-' + s, text: s });
  }

  // ---------- routing ----------

  function route() {
    routeGen++;
    clearTimers();
    notice('');
    const h = location.hash || '#/';
    for (const v of ['list', 'session', 'upload']) $('#view-' + v).hidden = true;
    document.querySelectorAll('nav a').forEach((a) => a.removeAttribute('aria-current'));
    let m;
    if ((m = h.match(/^#\/session\/([^/?#]+)/))) {
      $('#view-session').hidden = false;
      view.sess = null;
      showSession(decodeURIComponent(m[1]), routeGen);
    } else if (h.startsWith('#/upload')) {
      $('#view-upload').hidden = false;
      const p = new URLSearchParams(h.split('?')[1] || '').get('patient');
      if (p && /^P\d+$/i.test(p)) $('#u-patient').value = p.toUpperCase();
      $('#nav-upload').setAttribute('aria-current', 'page');
      document.title = 'Upload: emgd';
    } else {
      $('#view-list').hidden = false;
      $('#nav-sessions').setAttribute('aria-current', 'page');
      showList(routeGen, true);
    }
  }

  // ---------- session list ----------

  const list = { patient: '', status: '', shown: 50, cursor: null, failed: false };

  function listQuery(limit, cursor) {
    const q = new URLSearchParams({ limit: String(Math.min(500, limit)) });
    if (list.patient) q.set('patient', list.patient);
    if (list.status) q.set('status', list.status);
    if (cursor) q.set('cursor', cursor);
    return '/sessions?' + q.toString();
  }

  function contractionsCell(ov) {
    if (!ov || !ov.channels) return '–';
    const parts = Object.keys(ov.channels).sort().map((b) => {
      const c = ov.channels[b];
      return b + ' ' + c.good + '/' + c.contractions;
    });
    return parts.length ? parts.join(' · ') : '–';
  }

  function sessionRow(s) {
    const ov = s.overview || null;
    return el('tr', { 'data-id': s.id, 'data-code': s.session_code, 'data-status': s.status },
      el('td', {}, el('a', { href: '#/session/' + encodeURIComponent(s.id), class: 'code' }, s.session_code)),
      el('td', { text: s.patient_code }),
      el('td', { text: deviceTime(s.recorded_at) }),
      el('td', { class: 'status-cell' }, statusBadge(s.status), s.superseded_by ? el('span', { class: 'muted', text: ' (replaced)' }) : null,
        // A rejected upload (refused on arrival, never analysed, not
        // counted among the patient's sessions) shows why.
        s.status === 'rejected' ? el('span', { class: 'reject-reason', text: 'Not counted: ' + (s.error || 'the file could not be read') }) : null),
      el('td', { text: contractionsCell(ov) }),
      el('td', { class: 'num', text: ov ? num(ov.overall_score) : '–' }));
  }

  // rowKey is what a row shows: a refresh replaces a row only when it
  // changed.
  function rowKey(s) {
    return JSON.stringify([s.session_code, s.patient_code, s.recorded_at, s.status, s.superseded_by || null, s.overview || null,
      s.status === 'rejected' ? s.error : null]);
  }

  // updateRows makes the table show sessions, in order, keeping the rows
  // (and the focus, the selection) of sessions that did not change.
  function updateRows(tbody, sessions) {
    const old = new Map();
    for (const tr of tbody.rows) old.set(tr.dataset.id, tr);
    const rows = sessions.map((s) => {
      const key = rowKey(s);
      const tr = old.get(s.id);
      if (tr && tr.dataset.key === key) return tr;
      const nr = sessionRow(s);
      nr.dataset.key = key;
      if (tr) tr.replaceWith(nr);
      return nr;
    });
    rows.forEach((tr, i) => {
      if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
    });
    while (tbody.rows.length > rows.length) tbody.lastElementChild.remove();
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // How often the list is refreshed: often while a session is being
  // analysed, and so that a new session appears within 10 s.
  const LIST_BUSY_MS = 3000, LIST_IDLE_MS = 8000;

  // showList shows the list (first, when the view is entered) and keeps
  // it current: only rows that changed are replaced, the filter form is
  // left alone (what is being typed in it, and the focus, stay), and no
  // request is made while the tab is hidden.
  async function showList(gen, first) {
    if (first) {
      document.title = 'Sessions: emgd';
      $('#f-patient').value = list.patient;
      $('#f-status').value = list.status;
    }
    const state = $('#list-state');
    let busy = 0;
    try {
      const page = await api(listQuery(list.shown));
      if (gen !== routeGen) return;
      updateRows($('#sessions tbody'), page.sessions);
      list.cursor = page.next_cursor;
      $('#more').hidden = !page.next_cursor;
      busy = page.sessions.filter((s) => s.status === 'pending' || s.status === 'processing').length;
      setText(state, page.sessions.length === 0
        ? 'No sessions' + (list.patient || list.status ? ' match the filter.' : ' yet: upload a recording.')
        : page.sessions.length + ' session' + (page.sessions.length === 1 ? '' : 's') + (busy ? ', ' + busy + ' being analysed' : '') + '.');
      if (list.failed) { list.failed = false; notice(''); }
    } catch (err) {
      if (gen !== routeGen) return;
      notice(explain(err));
      list.failed = true;
      if (err.status === 401) return;
    }
    later(() => showList(gen, false), busy ? LIST_BUSY_MS : LIST_IDLE_MS);
  }

  // clearList empties the table while a new filter loads, so that no row
  // of the old one is taken for a match.
  function clearList() {
    $('#sessions tbody').replaceChildren();
    $('#more').hidden = true;
    $('#list-state').textContent = 'Loading…';
  }

  async function loadMore() {
    if (!list.cursor) return;
    try {
      const page = await api(listQuery(50, list.cursor));
      $('#sessions tbody').append(...page.sessions.map((s) => { const tr = sessionRow(s); tr.dataset.key = rowKey(s); return tr; }));
      list.shown += page.sessions.length;
      list.cursor = page.next_cursor;
      $('#more').hidden = !page.next_cursor;
    } catch (err) {
      notice(explain(err));
    }
  }

  // ---------- session view ----------

  const view = { id: null, gen: 0, sess: null, duration: 0, channels: [], base: '', start: 0, end: 0, charts: [], fetchGen: 0 };

  function metaList(dl, rows) {
    dl.replaceChildren();
    for (const [k, v] of rows) {
      dl.append(el('dt', { text: k }), el('dd', { text: v == null || v === '' ? '–' : String(v) }));
    }
  }

  async function showSession(id, gen) {
    view.gen = gen;
    let sess;
    try {
      sess = await api('/sessions/' + encodeURIComponent(id));
    } catch (err) {
      if (gen !== routeGen) return;
      notice(explain(err));
      $('#s-title').textContent = 'Session';
      return;
    }
    if (gen !== routeGen) return;
    const first = view.id !== sess.id || !view.sess || view.sess.status !== sess.status;
    view.id = sess.id;
    view.sess = sess;
    document.title = sess.session_code + ': emgd';
    $('#s-title').textContent = 'Session ' + sess.session_code;
    const st = $('#s-status');
    st.replaceChildren(statusBadge(sess.status));
    st.dataset.status = sess.status;
    showFailure(sess);
    showReplaced(sess, gen);
    const md = sess.metadata || {};
    const game = md.game || {};
    metaList($('#s-meta'), [
      ['Patient', sess.patient_code],
      ['Recorded (device\'s local time)', sess.recorded_at ? deviceTime(sess.recorded_at) : null],
      ['File', sess.object_key],
      ['Size', sess.file_size_bytes != null ? (sess.file_size_bytes / 1048576).toFixed(2) + ' MiB' : null],
      ['Duration', md.duration_seconds != null ? num(md.duration_seconds) + ' s' : null],
      ['Sampling rate', md.sampling_rate != null ? num(md.sampling_rate) + ' Hz' : null],
      ['Channels', (md.channel_names || []).join(', ')],
      ['Game', [game.name, game.level != null ? 'level ' + game.level : null, game.score != null ? 'score ' + game.score : null].filter(Boolean).join(', ')],
      ['Uploaded', serverTime(sess.created_at)],
      [sess.status === 'rejected' ? 'Rejected' : 'Analysed', serverTime(sess.processed_at)],
      ['Processing version', sess.analysis ? sess.analysis.processing_version : null],
    ]);
    const a = sess.analysis;
    const sc = (a && a.scores) || {};
    metaList($('#s-scores'), [
      ['Overall', num(sc.overall_score)],
      ['Compliance', num(sc.compliance_score)],
      ['Symmetry', num(sc.symmetry_score)],
      ['Effort', num(sc.effort_score)],
      ['Game', num(sc.game_score)],
      ['Left muscle compliance' + (sc.left_channel ? ' (' + sc.left_channel + ')' : ''), num(sc.left_muscle_compliance)],
      ['Right muscle compliance' + (sc.right_channel ? ' (' + sc.right_channel + ')' : ''), num(sc.right_muscle_compliance)],
    ]);
    renderAnalytics(a ? a.analytics_summary.analytics : null);
    if (sess.status === 'pending' || sess.status === 'processing') {
      later(() => showSession(id, gen), 1500);
    }
    if (first) setupCharts(gen);
  }

  // failureOf explains a failed analysis in the clinic's words: what
  // failed, and what can be done about it.
  function failureOf(error) {
    const e = String(error || '').toLowerCase();
    const reupload = 'Upload the recording again from the tablet (or with Upload, above), then review the new session.';
    const recalc = 'Press Recalculate to analyse the same file again; if it fails again, upload the recording again.';
    if (/not a readable c3d|no analog channels|too short/.test(e)) {
      return ['The file is not a recording emgd can read: it is damaged, incomplete or not a C3D recording.', reupload];
    }
    if (/object not found|not found in storage|no such file/.test(e)) {
      return ['The recording\'s file is no longer in storage, so it could not be analysed.', reupload];
    }
    if (/object changed|newer version/.test(e)) {
      return ['The file was replaced by a newer upload after this session was created; the newer upload has its own session.', 'Open the newer session from the session list.'];
    }
    if (/too large|over the limit|over the configured limits/.test(e)) {
      return ['The recording is larger than this server is set to analyse.', 'Ask the administrator to raise the limit, then press Recalculate.'];
    }
    if (/\bnan\b|not finite|non-finite|infinite|invalid sample/.test(e)) {
      return ['The recording contains invalid samples (values that are not numbers), so its signals could not be analysed.', reupload];
    }
    if (/sampling rate|analog:rate|\brate\b/.test(e)) {
      return ['The recording does not say at what rate its signals were sampled, so they could not be analysed.', reupload];
    }
    if (/parameter/.test(e)) {
      return ['The analysis settings used for this session were refused.', 'Check the patient\'s settings, then press Recalculate.'];
    }
    if (/interrupted|stopped before|ran out of time|timeout|rescued|lost|gave up|cancelled|canceled|stopped/.test(e)) {
      return ['The analysis was interrupted before it finished (the server restarted, stopped or ran out of time).', recalc];
    }
    return ['The analysis could not be completed.', recalc + ' If it still fails, send the technical details below to your emgd administrator.'];
  }

  // showFailure shows a failed session's readable explanation, the actions
  // (recalculate, upload again) and the raw error folded away.
  function showFailure(sess) {
    const box = $('#s-failure');
    const failed = sess.status === 'failed';
    const rejected = sess.status === 'rejected';
    box.hidden = !failed && !rejected;
    if (!failed && !rejected) return;
    const [what, todo] = rejected
      ? ['This upload was rejected when it arrived: the file is not a recording emgd can read (damaged, incomplete or not a C3D recording). It was not analysed and does not count among the patient\'s sessions. Reason: ' + (sess.error || 'not recorded') + '.',
        'Upload the recording again from the tablet (or with Upload, above); a readable upload of the same file replaces this one.']
      : failureOf(sess.error);
    setText($('#s-fail-title'), rejected ? 'This upload was rejected' : 'The analysis of this recording failed');
    setText($('#s-fail-what'), what);
    setText($('#s-fail-todo'), todo);
    setText($('#s-error'), sess.error || 'No error was recorded.');
    $('#s-reupload').setAttribute('href', '#/upload?patient=' + encodeURIComponent(sess.patient_code || ''));
    // A rejected upload is final: recalculating it cannot help.
    $('#s-recalc').hidden = rejected;
    $('#s-recalc').disabled = rejected;
  }

  async function recalc() {
    const id = view.id;
    const gen = routeGen;
    const state = $('#s-recalc-state');
    $('#s-recalc').disabled = true;
    state.textContent = 'Starting the analysis again…';
    let r, body = null;
    try {
      r = await fetch('/sessions/' + encodeURIComponent(id) + '/recalc', {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, authHeaders()), body: '{}' });
      try { body = await r.json(); } catch (e) { /* not JSON */ }
    } catch (e) {
      r = null;
    }
    if (gen !== routeGen) return;
    if (r && r.ok) {
      state.textContent = 'The analysis is running again; this page updates when it ends.';
      view.sess = null;
      later(() => showSession(id, gen), 500);
      return;
    }
    $('#s-recalc').disabled = false;
    state.textContent = 'Recalculation refused: ' + (!r ? 'the server cannot be reached.' : r.status === 401
      ? 'an access token is needed (top of the page).' : ((body && body.error) || r.status + ' ' + r.statusText));
  }

  // showReplaced says, on the page of a session whose file was uploaded
  // again, that a newer session exists, and links to it.
  async function showReplaced(sess, gen) {
    const box = $('#s-replaced');
    if (!sess.superseded_by) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    if (box.dataset.newer === sess.superseded_by && !box.hidden) return;
    box.dataset.newer = sess.superseded_by;
    const link = el('a', { id: 's-newer', href: '#/session/' + encodeURIComponent(sess.superseded_by) }, 'the newer session');
    box.replaceChildren(el('strong', { text: 'Replaced. ' }),
      'This file was uploaded again; the newer version is analysed in ', link,
      '. The figures below are those of this older version.');
    box.hidden = false;
    try {
      const newer = await api('/sessions/' + encodeURIComponent(sess.superseded_by));
      if (gen !== routeGen) return;
      link.textContent = 'session ' + newer.session_code;
    } catch (err) { /* the link still works */ }
  }

  function analyticsOf(base) {
    const a = view.sess && view.sess.analysis;
    return a ? a.analytics_summary.analytics[base] : null;
  }

  // One column per channel and one row per measure, so that a session's
  // usual two to four channels fit a 1280-pixel screen without scrolling.
  function renderAnalytics(an) {
    const table = $('#s-analytics');
    const rows = [
      ['Contractions', 'contraction_count'], ['Good', 'good_contraction_count'],
      ['MVC met', 'mvc_compliant_count'], ['Duration met', 'duration_compliant_count'],
      ['MVC threshold', 'mvc75_threshold'], ['Avg duration (ms)', 'avg_duration_ms'], ['Max amplitude', 'max_amplitude'],
      ['RMS', 'rms'], ['MAV', 'mav'], ['MPF (Hz)', 'mpf'], ['MDF (Hz)', 'mdf'], ['Fatigue index', 'fatigue_index_fi_nsm5'],
    ];
    const body = table.tBodies[0];
    const bases = an ? Object.keys(an).filter((b) => an[b]).sort() : [];
    table.tHead.replaceChildren(el('tr', {}, el('th', { scope: 'col', text: 'Measure' }),
      ...bases.map((b) => el('th', { scope: 'col', class: 'num', text: b }))));
    body.replaceChildren();
    if (!bases.length) {
      body.append(el('tr', {}, el('td', { colspan: 2, class: 'muted', text: 'No analysis yet.' })));
      return;
    }
    for (const [label, k] of rows) {
      body.append(el('tr', {}, el('th', { scope: 'row', text: label }), ...bases.map((b) => {
        const v = an[b][k];
        return el('td', { class: 'num', text: count(v) });
      })));
    }
    for (const b of bases) {
      if (an[b].errors) body.append(el('tr', {}, el('td', { colspan: bases.length + 1, class: 'error-text', text: b + ': ' + an[b].errors })));
    }
  }

  async function setupCharts(gen) {
    const list = $('#chart-list');
    const sel = $('#c-base');
    if (view.sess.status !== 'completed' && view.sess.status !== 'failed') {
      list.replaceChildren(el('p', { class: 'muted', text: view.sess.status === 'rejected'
        ? 'A rejected upload has no signals to show.' : 'Charts appear when the analysis is done.' }));
      sel.replaceChildren();
      view.charts = [];
      view.duration = 0;
      updateRange();
      return;
    }
    let info;
    try {
      info = await api('/signals/jit/' + encodeURIComponent(view.id) + '/channels');
    } catch (err) {
      if (gen !== routeGen) return;
      list.replaceChildren(el('p', { class: 'error-text', text: 'Signals unavailable: ' + explain(err) }));
      sel.replaceChildren();
      view.charts = [];
      view.duration = 0;
      updateRange();
      return;
    }
    if (gen !== routeGen) return;
    view.channels = info.channels;
    view.duration = info.duration_seconds;
    const bases = [];
    for (const c of info.channels) {
      const m = c.match(/^(.*) Processed$/);
      if (m) bases.push(m[1]);
    }
    if (!bases.length) bases.push(...info.channels);
    sel.replaceChildren(...bases.map((b) => el('option', { value: b, text: b })));
    if (!bases.includes(view.base)) view.base = bases[0] || '';
    sel.value = view.base;
    view.start = 0;
    view.end = view.duration;
    buildCharts();
    fetchCharts();
  }

  function channelFor(base, kind) {
    const lc = (s) => s.toLowerCase();
    const ch = view.channels;
    if (kind === 'raw') return ch.find((c) => lc(c) === lc(base + ' Raw')) || ch.find((c) => c === base) || null;
    if (kind === 'activated') return ch.find((c) => lc(c) === lc(base + ' activated')) || null;
    return ch.find((c) => c === base + ' Processed') || null;
  }

  function buildCharts() {
    const list = $('#chart-list');
    list.replaceChildren();
    view.charts = [];
    for (const [kind, title] of [['raw', 'Raw'], ['activated', 'Activated'], ['processed', 'Processed']]) {
      const name = channelFor(view.base, kind);
      if (!name) continue;
      const canvas = el('canvas', { tabindex: '0', role: 'img', 'data-channel': name, 'data-kind': kind,
        'aria-label': name + ' signal; drag to zoom, + and − keys zoom, arrows move, 0 resets' });
      const fig = el('figure', { class: 'chart' }, el('figcaption', {}, el('strong', { text: title }), ' ', el('span', { class: 'muted', text: name })), canvas);
      list.append(fig);
      const chart = { name, kind, canvas, data: null, sel: null, drawn: 0 };
      view.charts.push(chart);
      attachZoom(chart);
    }
    updateRange();
  }

  function maxPoints(canvas) {
    const w = Math.max(200, Math.round((canvas.clientWidth || 800) * (window.devicePixelRatio || 1)));
    return Math.min(8000, w * 2);
  }

  function signalURL(chart) {
    // The dashboard draws no RMS envelope: it opts out of the old default.
    const q = new URLSearchParams({ max_points: String(maxPoints(chart.canvas)), include_rms: 'false' });
    if (view.start > 0 || view.end < view.duration) {
      q.set('start_s', view.start.toFixed(3));
      q.set('end_s', view.end.toFixed(3));
    }
    return '/signals/jit/' + encodeURIComponent(view.id) + '/' + encodeURIComponent(chart.name) + '?' + q.toString();
  }

  async function fetchCharts() {
    const gen = ++view.fetchGen;
    updateRange();
    await Promise.all(view.charts.map(async (chart) => {
      try {
        const d = await api(signalURL(chart));
        if (gen !== view.fetchGen) return;
        chart.data = d;
        chart.error = null;
      } catch (err) {
        if (gen !== view.fetchGen) return;
        chart.data = null;
        chart.error = explain(err);
      }
      draw(chart);
    }));
  }

  function updateRange() {
    const whole = view.start <= 0 && view.end >= view.duration;
    $('#z-range').textContent = view.duration
      ? (whole ? 'Whole recording, ' : 'Showing ') + seconds(view.start, view.end - view.start) + '–' + seconds(view.end, view.end - view.start) +
        ' s of ' + num(view.duration) + ' s'
      : '';
  }

  function setWindow(start, end) {
    const minSpan = Math.min(view.duration, 0.05);
    start = Math.max(0, start);
    end = Math.min(view.duration, end);
    if (end - start < minSpan) {
      const mid = (start + end) / 2;
      start = Math.max(0, mid - minSpan / 2);
      end = Math.min(view.duration, start + minSpan);
    }
    if (start === view.start && end === view.end) return;
    view.start = start;
    view.end = end;
    fetchCharts();
  }

  function zoom(factor, centre) {
    const span = view.end - view.start;
    const c = centre == null ? view.start + span / 2 : centre;
    const ns = Math.min(view.duration, span * factor);
    let s = c - (c - view.start) * (ns / span);
    s = Math.max(0, Math.min(view.duration - ns, s));
    setWindow(s, s + ns);
  }

  function pan(frac) {
    const span = view.end - view.start;
    let s = view.start + span * frac;
    s = Math.max(0, Math.min(view.duration - span, s));
    setWindow(s, s + span);
  }

  const PAD = { l: 64, r: 12, t: 10, b: 24 };

  function timeAt(chart, clientX) {
    const r = chart.canvas.getBoundingClientRect();
    const x = clientX - r.left - PAD.l;
    const w = r.width - PAD.l - PAD.r;
    return view.start + Math.max(0, Math.min(1, x / w)) * (view.end - view.start);
  }

  // attachZoom: a horizontal drag (mouse, pen or finger) selects the span
  // to zoom into; two fingers pinch the time axis. The canvas's
  // touch-action is pan-y: a vertical swipe scrolls the page (the browser
  // then cancels the pointer, and nothing is zoomed).
  function attachZoom(chart) {
    const c = chart.canvas;
    let startX = null;
    const down = new Map();
    let pinch = null;
    const spread = () => { const xs = [...down.values()]; return Math.abs(xs[0] - xs[1]); };
    c.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'mouse' && e.button !== 0) return;
      down.set(e.pointerId, e.clientX);
      try { c.setPointerCapture(e.pointerId); } catch (err) { /* released already */ }
      chart.sel = null;
      if (down.size === 2) {
        startX = null;
        const xs = [...down.values()];
        pinch = { d0: Math.max(1, spread()), centre: timeAt(chart, (xs[0] + xs[1]) / 2), factor: 1 };
        draw(chart);
      } else if (down.size === 1) {
        startX = e.clientX;
      }
    });
    c.addEventListener('pointermove', (e) => {
      if (!down.has(e.pointerId)) return;
      down.set(e.pointerId, e.clientX);
      if (pinch && down.size === 2) {
        pinch.factor = pinch.d0 / Math.max(1, spread());
        return;
      }
      if (startX == null) return;
      chart.sel = [timeAt(chart, startX), timeAt(chart, e.clientX)];
      draw(chart);
    });
    const finish = (e) => {
      if (!down.has(e.pointerId)) return;
      down.delete(e.pointerId);
      if (pinch) {
        if (down.size === 0) {
          const p = pinch;
          pinch = null;
          if (Math.abs(p.factor - 1) > 0.05) zoom(Math.max(0.05, Math.min(20, p.factor)), p.centre);
        }
        return;
      }
      if (startX == null) return;
      const dx = Math.abs(e.clientX - startX);
      const a = timeAt(chart, startX), b = timeAt(chart, e.clientX);
      startX = null;
      chart.sel = null;
      if (dx > 4) setWindow(Math.min(a, b), Math.max(a, b));
      else draw(chart);
    };
    c.addEventListener('pointerup', finish);
    c.addEventListener('pointercancel', (e) => {
      down.delete(e.pointerId);
      if (down.size === 0) pinch = null;
      startX = null;
      chart.sel = null;
      draw(chart);
    });
    c.addEventListener('dblclick', () => setWindow(0, view.duration));
    c.addEventListener('keydown', (e) => {
      const keys = { '+': () => zoom(0.5), '=': () => zoom(0.5), '-': () => zoom(2), '_': () => zoom(2),
        ArrowLeft: () => pan(-0.25), ArrowRight: () => pan(0.25), '0': () => setWindow(0, view.duration), Home: () => setWindow(0, view.duration) };
      if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
    });
  }

  function niceTicks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / n;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }

  // hatch is the diagonal-line pattern of not-good contractions.
  let hatchTile = null;
  function hatch(g) {
    if (!hatchTile) {
      hatchTile = document.createElement('canvas');
      hatchTile.width = hatchTile.height = 8;
      const h = hatchTile.getContext('2d');
      h.strokeStyle = 'rgba(180,64,28,0.34)';
      h.lineWidth = 2;
      h.beginPath();
      h.moveTo(-2, 10); h.lineTo(10, -2);
      h.moveTo(-2, 2); h.lineTo(2, -2);
      h.moveTo(6, 10); h.lineTo(10, 6);
      h.stroke();
    }
    return g.createPattern(hatchTile, 'repeat');
  }

  function draw(chart) {
    const c = chart.canvas;
    const dpr = window.devicePixelRatio || 1;
    const cssW = c.clientWidth || 800, cssH = c.clientHeight || 180;
    if (c.width !== Math.round(cssW * dpr) || c.height !== Math.round(cssH * dpr)) {
      c.width = Math.round(cssW * dpr);
      c.height = Math.round(cssH * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const W = cssW - PAD.l - PAD.r, H = cssH - PAD.t - PAD.b;
    const t0 = view.start, t1 = view.end;
    const X = (t) => PAD.l + ((t - t0) / (t1 - t0)) * W;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#555';
    if (chart.error || !chart.data) {
      g.fillText(chart.error || 'Loading…', PAD.l, PAD.t + 14);
      return;
    }
    const d = chart.data;
    const an = analyticsOf(view.base);
    const thr = chart.kind === 'processed' && an && an.mvc75_threshold != null ? an.mvc75_threshold : null;
    let lo = Infinity, hi = -Infinity;
    for (const v of d.data) { if (v != null) { if (v < lo) lo = v; if (v > hi) hi = v; } }
    if (thr != null) { lo = Math.min(lo, thr); hi = Math.max(hi, thr); }
    if (!isFinite(lo)) { lo = -1; hi = 1; }
    if (hi === lo) { hi += 1e-9; lo -= 1e-9; }
    const m = (hi - lo) * 0.05; lo -= m; hi += m;
    const Y = (v) => PAD.t + (1 - (v - lo) / (hi - lo)) * H;

    // contraction spans: good ones solid and outlined, not-good ones
    // hatched with a dashed edge (told apart without colour).
    if (an && an.contractions) {
      let good = 0, bad = 0;
      for (const k of an.contractions) {
        const a = k.start_time_ms / 1000, b = k.end_time_ms / 1000;
        if (b < t0 || a > t1) continue;
        const xa = Math.max(PAD.l, X(a)), xb = Math.min(PAD.l + W, X(b));
        const w = Math.max(1, xb - xa);
        g.save();
        if (k.is_good) {
          good++;
          g.fillStyle = 'rgba(30,123,52,0.20)';
          g.fillRect(xa, PAD.t, w, H);
          g.strokeStyle = 'rgba(30,123,52,0.75)';
          g.lineWidth = 1.5;
          g.strokeRect(xa + 0.75, PAD.t + 0.75, Math.max(0, w - 1.5), H - 1.5);
        } else {
          bad++;
          g.fillStyle = 'rgba(180,64,28,0.10)';
          g.fillRect(xa, PAD.t, w, H);
          g.fillStyle = hatch(g);
          g.fillRect(xa, PAD.t, w, H);
          g.strokeStyle = 'rgba(180,64,28,0.7)';
          g.lineWidth = 1;
          g.setLineDash([4, 3]);
          g.strokeRect(xa + 0.5, PAD.t + 0.5, Math.max(0, w - 1), H - 1);
        }
        g.restore();
      }
      c.dataset.good = String(good);
      c.dataset.bad = String(bad);
    }
    // axes and grid
    g.strokeStyle = '#ddd';
    g.lineWidth = 1;
    g.fillStyle = '#555';
    g.textAlign = 'right';
    for (const v of niceTicks(lo, hi, 4)) {
      const y = Math.round(Y(v)) + 0.5;
      g.beginPath(); g.moveTo(PAD.l, y); g.lineTo(PAD.l + W, y); g.stroke();
      g.fillText(Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(1) : +v.toPrecision(3) + '', PAD.l - 4, y + 4);
    }
    g.textAlign = 'center';
    for (const t of niceTicks(t0, t1, Math.max(2, Math.floor(W / 90)))) {
      const x = Math.round(X(t)) + 0.5;
      g.beginPath(); g.moveTo(x, PAD.t + H); g.lineTo(x, PAD.t + H + 4); g.stroke();
      g.fillText(+t.toPrecision(6) + ' s', x, PAD.t + H + 16);
    }
    g.strokeStyle = '#999';
    g.strokeRect(PAD.l + 0.5, PAD.t + 0.5, W, H);
    // the signal
    g.save();
    g.beginPath(); g.rect(PAD.l, PAD.t, W, H); g.clip();
    g.strokeStyle = chart.kind === 'processed' ? '#1f4e9c' : chart.kind === 'activated' ? '#6a3d9a' : '#333';
    g.lineWidth = 1;
    g.beginPath();
    let pen = false;
    for (let i = 0; i < d.data.length; i++) {
      const v = d.data[i];
      if (v == null) { pen = false; continue; }
      const x = X(d.time_axis[i]), y = Y(v);
      if (pen) g.lineTo(x, y); else { g.moveTo(x, y); pen = true; }
    }
    g.stroke();
    // MVC threshold
    if (thr != null) {
      const y = Math.round(Y(thr)) + 0.5;
      g.strokeStyle = '#c0392b';
      g.setLineDash([6, 4]);
      g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(PAD.l, y); g.lineTo(PAD.l + W, y); g.stroke();
      g.setLineDash([]);
      g.fillStyle = '#c0392b';
      g.textAlign = 'left';
      g.fillText('MVC threshold', PAD.l + 4, y - 4);
    }
    // drag selection
    if (chart.sel) {
      const xa = X(Math.min(...chart.sel)), xb = X(Math.max(...chart.sel));
      g.fillStyle = 'rgba(30,100,200,0.15)';
      g.fillRect(xa, PAD.t, xb - xa, H);
    }
    g.restore();
    chart.drawn++;
    c.dataset.drawn = String(chart.drawn);
    c.setAttribute('aria-label', chart.name + ', ' + seconds(t0, t1 - t0) + ' to ' + seconds(t1, t1 - t0) + ' s, ' + d.data.length + ' points' +
      (an && an.contractions ? ', ' + an.contractions.length + ' contractions shaded (good solid and outlined, not good hatched)' : ''));
  }

  // ---------- upload ----------

  let xhr = null;

  function chosen(file) {
    $('#u-chosen').textContent = file ? file.name + ' (' + (file.size / 1048576).toFixed(2) + ' MiB)' : '';
    $('#u-error').textContent = '';
  }

  // fieldErrors sums up FastAPI's list of refused fields, if that is the detail.
  function fieldErrors(body) {
    if (!body || !Array.isArray(body.detail)) return '';
    return body.detail.map((d) => (Array.isArray(d.loc) ? d.loc[d.loc.length - 1] + ': ' : '') + d.msg).join('; ');
  }

  function uploadError(status, body) {
    const msg = body && (body.error || (typeof body.detail === 'string' ? body.detail : ''));
    switch (status) {
      case 0: return 'The upload failed: the server could not be reached.';
      case 401: return 'This server asks for an access token: enter it at the top of the page and press Use.';
      case 413: return 'The file is too large. ' + (msg || '');
      case 415: return 'The upload was not sent as a form (' + (msg || 'unsupported type') + ').';
      case 422: return 'The file cannot be analysed: ' + (fieldErrors(body) || msg || 'not a readable C3D file');
      case 400: return 'The upload was refused: ' + (msg || 'bad request');
      case 503: return 'The server cannot store the file right now; try again in a moment. ' + (msg || '');
    }
    return 'The upload failed (' + status + ')' + (msg ? ': ' + msg : '.');
  }

  function sendUpload(ev) {
    ev.preventDefault();
    const file = $('#u-file').files[0];
    const err = $('#u-error');
    const state = $('#u-state');
    err.textContent = '';
    state.replaceChildren();
    if (!file) { err.textContent = 'Choose a .c3d file first.'; $('#u-file').focus(); return; }
    if (!/\.c3d$/i.test(file.name)) { err.textContent = file.name + ' is not a .c3d file.'; return; }
    const patient = $('#u-patient').value.trim().toUpperCase();
    if (!/^P\d+$/.test(patient)) { err.textContent = 'The patient code is P followed by digits, e.g. P001.'; $('#u-patient').focus(); return; }
    $('#u-patient').value = patient;
    const fd = new FormData();
    fd.append('patient', patient);
    fd.append('store', 'true');
    // The dashboard shows the stored session, not the upload's answer:
    // no signals (tens of MB) in it.
    fd.append('include_signals', 'false');
    fd.append('file', file, file.name);
    const bar = $('#u-progress');
    bar.hidden = false;
    bar.value = 0;
    bar.max = 100;
    delete bar.dataset.sent;
    $('#u-send').disabled = true;
    $('#u-cancel').hidden = false;
    state.textContent = 'Uploading ' + file.name + '…';
    xhr = new XMLHttpRequest();
    xhr.open('POST', '/upload?store=true');
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        bar.dataset.sent = String(e.loaded);
        state.textContent = 'Uploading ' + file.name + ': ' + bar.value + ' %';
      }
    });
    xhr.upload.addEventListener('load', () => {
      bar.removeAttribute('value');
      state.textContent = 'Uploaded; analysing…';
    });
    const done = () => {
      $('#u-send').disabled = false;
      $('#u-cancel').hidden = true;
      bar.hidden = true;
      xhr = null;
    };
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      const status = xhr.status;
      done();
      if (status === 200 && body && body.session_id) {
        const link = el('a', { href: '#/session/' + encodeURIComponent(body.session_id), id: 'u-open' }, 'Open session ' + body.session_code);
        const st = body.stored || {};
        state.replaceChildren('Stored as ', el('strong', { text: st.object_key || '' }), ', session ' + body.session_code + ' (' +
          (st.duplicate ? 'already known' : 'analysis running') + '). ', link);
        $('#u-file').value = '';
        chosen(null);
        link.focus();
      } else {
        state.textContent = '';
        err.textContent = uploadError(status, body);
      }
    });
    xhr.addEventListener('error', () => { done(); state.textContent = ''; err.textContent = uploadError(0, null); });
    xhr.addEventListener('abort', () => { done(); state.textContent = 'Upload cancelled.'; });
    xhr.send(fd);
  }

  // ---------- wiring ----------

  function init() {
    $('#token').value = token;
    $('#token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      token = $('#token').value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
      route();
    });
    $('#filters').addEventListener('submit', (e) => {
      e.preventDefault();
      const p = $('#f-patient').value.trim().toUpperCase();
      if (p && !/^P\d+$/.test(p)) { notice('The patient code is P followed by digits, e.g. P001.'); $('#f-patient').focus(); return; }
      list.patient = p;
      list.status = $('#f-status').value;
      list.shown = 50;
      clearList();
      route();
    });
    $('#f-status').addEventListener('change', () => $('#filters').requestSubmit());
    $('#f-clear').addEventListener('click', () => {
      list.patient = ''; list.status = ''; list.shown = 50;
      clearList();
      route();
    });
    $('#more').addEventListener('click', loadMore);
    $('#s-recalc').addEventListener('click', recalc);
    document.addEventListener('visibilitychange', resumeParked);
    $('#c-base').addEventListener('change', (e) => { view.base = e.target.value; buildCharts(); fetchCharts(); });
    $('#z-in').addEventListener('click', () => zoom(0.5));
    $('#z-out').addEventListener('click', () => zoom(2));
    $('#z-left').addEventListener('click', () => pan(-0.25));
    $('#z-right').addEventListener('click', () => pan(0.25));
    $('#z-reset').addEventListener('click', () => setWindow(0, view.duration));
    let resize = null;
    window.addEventListener('resize', () => {
      clearTimeout(resize);
      resize = setTimeout(() => view.charts.forEach(draw), 150);
    });

    const input = $('#u-file');
    input.addEventListener('change', () => chosen(input.files[0]));
    const drop = $('#drop');
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const f = e.dataTransfer.files[0];
      if (!f) return;
      const dt = new DataTransfer();
      dt.items.add(f);
      input.files = dt.files;
      chosen(f);
    });
    $('#upload-form').addEventListener('submit', sendUpload);
    $('#u-cancel').addEventListener('click', () => { if (xhr) xhr.abort(); });

    window.addEventListener('hashchange', route);
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
