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

  // Who uses the page. me: GET /auth/me's answer (email, role, patients,
  // via), null until known; csrf: a cookie session's CSRF token, kept in
  // memory only (read again from /auth/me after a reload: the cookie
  // survives it, and the token with it); accounts: the server has
  // accounts (its 401s name the login route), so a 401 shows the sign-in
  // form instead of asking for the access token; signedOut: the sign-in
  // form is shown.
  const auth = { me: null, csrf: '', accounts: false, signedOut: false };
  const SIGN_IN_HEADER = 'X-Emgd-Sign-In';

  // authHeaders are the credentials of a request: the access token, when
  // one is in use (it wins over the session cookie at the server); the
  // cookie goes along by itself.
  function authHeaders() {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  // changes reports whether a method changes state (needs X-CSRF-Token
  // with a cookie session).
  function changes(method) {
    const m = String(method || 'GET').toUpperCase();
    return m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS';
  }

  class APIError extends Error {
    constructor(status, message, body) { super(message); this.status = status; this.body = body; }
  }

  // unauthorized is the one place a 401 from the server lands (request
  // and the upload's XMLHttpRequest call it). signIn: the answer named the
  // login route, so the server has accounts: the sign-in form takes over
  // the page. Otherwise only the read token can help: the page asks for it
  // at the top, as before accounts.
  const TOKEN_MSG = 'This server asks for an access token: enter it at the top of the page and press Use.';
  function unauthorized(signIn) {
    if (signIn || auth.accounts) {
      const why = token ? 'The access token was not accepted: sign in, or use another token.'
        : auth.me && auth.me.via === 'cookie' ? 'Your session has ended: sign in again.' : '';
      if (token) forgetToken();
      showLogin(why);
      return;
    }
    notice(TOKEN_MSG);
  }

  // request is the page's only way to the server: every API call goes
  // through it (api for JSON, download for files), so credentials and the
  // CSRF token are added and a 401 is handled in one place. opts: method,
  // body (an object is sent as JSON), headers, quiet (a 401 is left to the
  // caller).
  async function request(path, opts) {
    opts = opts || {};
    const headers = Object.assign({}, authHeaders(), opts.headers || {});
    if (auth.csrf && !token && changes(opts.method)) headers['X-CSRF-Token'] = auth.csrf;
    let body = opts.body;
    if (body != null && typeof body === 'object' && !(body instanceof FormData) && !(body instanceof Blob)) {
      body = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    let r;
    try {
      r = await fetch(path, { method: opts.method || 'GET', headers, body, credentials: 'same-origin' });
    } catch (e) {
      throw new APIError(0, 'The server cannot be reached (' + e.message + ').');
    }
    if (r.status === 401 && !opts.quiet) unauthorized(!!r.headers.get(SIGN_IN_HEADER));
    // A CSRF token refused (the session was replaced by a sign-in in
    // another tab): read the session's token again and try once more.
    if (r.status === 403 && changes(opts.method) && !opts.retried && !token && auth.me && auth.me.via === 'cookie') {
      let text = '';
      try { text = await r.clone().text(); } catch (e) { /* no body */ }
      if (/X-CSRF-Token/i.test(text)) {
        const before = auth.csrf;
        await loadMe();
        if (auth.csrf && auth.csrf !== before) return request(path, Object.assign({}, opts, { retried: true }));
      }
    }
    return r;
  }

  // ---------- accounts: sign-in, who is signed in, sign-out ----------

  // loadMe asks the server who the page's credentials name (and, for a
  // cookie session, its CSRF token). It answers true when someone (or the
  // open service) is known; a 401 shows the sign-in form or the token
  // notice through request.
  async function loadMe() {
    let r;
    try {
      r = await request('/auth/me');
    } catch (e) {
      return false; // unreachable: the views say so
    }
    if (r.status === 401) return false;
    if (!r.ok) return false; // a server without accounts' routes, or down: the views carry on
    let me = null;
    try { me = await r.json(); } catch (e) { /* not JSON */ }
    if (!me || !me.role) return false;
    setMe(me);
    return true;
  }

  function setMe(me) {
    auth.me = me;
    auth.csrf = me.csrf_token || '';
    if (me.via === 'cookie' || me.via === 'token' || me.via === 'jwt') auth.accounts = true;
    auth.signedOut = false;
    showWho();
  }

  function forgetToken() {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('#token').value = '';
  }

  // showWho shows who is signed in (email and role) with the sign-out
  // button, the token field only where it is the way in (no accounts), and
  // what only admins may see (the audit trail).
  function showWho() {
    const me = auth.me;
    // The open service names nobody; the read token without accounts is
    // shown in its field, as before accounts.
    const signedIn = !!me && !auth.signedOut && me.via !== 'open' && !(me.via === 'static' && !auth.accounts);
    $('#who').hidden = !signedIn;
    $('#nav').hidden = auth.signedOut;
    $('#token-form').hidden = auth.accounts || auth.signedOut;
    $('#nav-audit').hidden = !(signedIn && me.role === 'admin');
    if (signedIn) {
      $('#who-email').textContent = me.email || (me.via === 'static' ? 'the read token' : 'an access token');
      const ps = me.patients || [];
      $('#who-role').textContent = '(' + me.role + (me.role === 'therapist' ? ': ' + (ps.length ? ps.join(', ') : 'no patients yet') : '') + ')';
      $('#who').dataset.role = me.role;
      $('#who').dataset.via = me.via;
      $('#sign-out').textContent = me.via === 'cookie' ? 'Sign out' : 'Forget the token';
    }
    // A therapist's own patients are offered in the patient fields; the
    // upload starts with the first of them.
    const ps = me && me.role === 'therapist' ? me.patients || [] : [];
    $('#my-patients').replaceChildren(...ps.map((p) => el('option', { value: p })));
    const up = $('#u-patient');
    if (ps.length && (up.value === 'P000' || !ps.includes(up.value))) up.value = ps[0];
  }

  // showLogin replaces the page with the sign-in form (the views, the
  // navigation and any request loop stop); msg says why. Shown already,
  // it keeps what is being typed.
  function showLogin(msg) {
    auth.accounts = true;
    auth.csrf = '';
    if (msg) $('#login-state').textContent = msg;
    if (auth.signedOut) return;
    auth.signedOut = true;
    routeGen++;
    clearTimers();
    notice('');
    for (const v of VIEWS) $('#view-' + v).hidden = true;
    shownView = 'login';
    $('#view-login').hidden = false;
    $('#login-error').textContent = '';
    document.title = 'Sign in: emgd';
    showWho();
    const email = $('#login-email');
    if (!$('#view-login').contains(document.activeElement)) (email.value ? $('#login-password') : email).focus();
  }

  function hideLogin() {
    auth.signedOut = false;
    $('#view-login').hidden = true;
    $('#login-state').textContent = '';
    $('#login-error').textContent = '';
    showWho();
  }

  // retryAfter is the cool-down a 429 names, in whole minutes (at least 1).
  function retryAfter(r) {
    const s = parseInt(r.headers.get('Retry-After') || '', 10);
    return isFinite(s) && s > 0 ? Math.max(1, Math.ceil(s / 60)) : 15;
  }

  async function signIn(e) {
    e.preventDefault();
    const email = $('#login-email'), password = $('#login-password'), error = $('#login-error');
    error.textContent = '';
    email.removeAttribute('aria-invalid');
    password.removeAttribute('aria-invalid');
    const address = email.value.trim();
    if (!address) { error.textContent = 'Enter your email.'; email.setAttribute('aria-invalid', 'true'); email.focus(); return; }
    if (!password.value) { error.textContent = 'Enter your password.'; password.setAttribute('aria-invalid', 'true'); password.focus(); return; }
    $('#login-send').disabled = true;
    $('#login-state').textContent = 'Signing in…';
    let r = null, body = null;
    try {
      // No access token along: the session cookie is what this makes.
      r = await fetch('/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
        body: JSON.stringify({ email: address, password: password.value }) });
      try { body = await r.json(); } catch (err) { /* not JSON */ }
    } catch (err) {
      r = null;
    } finally {
      $('#login-send').disabled = false;
      $('#login-state').textContent = '';
    }
    if (r && r.ok && body && body.role) {
      password.value = '';
      forgetToken();
      setMe(body);
      hideLogin();
      route();
      $('#main').focus();
      return;
    }
    const status = r ? r.status : 0;
    const msg = body && body.error;
    let text;
    switch (status) {
      case 0: text = 'The server cannot be reached; try again in a moment.'; break;
      case 401: text = 'Wrong email or password.'; break;
      case 429: text = 'Too many attempts, try again in ' + retryAfter(r) + ' min.'; break;
      case 400: text = 'Not signed in: ' + (msg || 'enter your email and password') + '.'; break;
      case 503: text = 'The server cannot check passwords right now (its database is unavailable); try again in a moment.'; break;
      default: text = 'Not signed in (' + status + (msg ? ': ' + msg : '') + ').';
    }
    error.textContent = text;
    error.dataset.status = String(status);
    password.value = '';
    if (status === 401) { email.setAttribute('aria-invalid', 'true'); password.setAttribute('aria-invalid', 'true'); }
    password.focus();
  }

  // useToken signs in with an access token (the read token or an API
  // token) from the sign-in form.
  async function useToken(e) {
    e.preventDefault();
    const input = $('#login-token'), error = $('#login-token-error');
    error.textContent = '';
    const t = input.value.trim();
    if (!t) { error.textContent = 'Enter the token.'; input.focus(); return; }
    token = t;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('#token').value = token;
    let r;
    try {
      r = await request('/auth/me', { quiet: true });
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    let me = null;
    try { me = await r.json(); } catch (err) { /* not JSON */ }
    if (!r.ok || !me || !me.role) {
      forgetToken();
      error.textContent = r.status === 401 ? 'The token was not accepted.' : 'The token could not be checked (' + r.status + ').';
      input.focus();
      return;
    }
    input.value = '';
    setMe(me);
    hideLogin();
    route();
    $('#main').focus();
  }

  // signOut ends the cookie session at the server (POST /auth/logout, with
  // its CSRF token), or forgets an access token, and shows the sign-in
  // form (without accounts, the token notice).
  async function signOut() {
    const me = auth.me;
    if (me && me.via === 'cookie') {
      try {
        const r = await request('/auth/logout', { method: 'POST', quiet: true });
        if (!r.ok && r.status !== 401) {
          let msg = r.status + ' ' + r.statusText;
          try { const b = await r.json(); msg = b.error || msg; } catch (err) { /* not JSON */ }
          notice('Not signed out: ' + msg);
          return;
        }
      } catch (err) {
        notice('Not signed out: ' + err.message);
        return;
      }
    }
    forgetToken();
    auth.me = null;
    auth.csrf = '';
    if (auth.accounts) {
      showLogin('You are signed out.');
      $('#login-email').focus();
    } else {
      showWho();
      route();
    }
  }

  // api is request for the JSON API: the answer's body, or an APIError
  // with the server's message (and its body, for field errors).
  async function api(path, opts) {
    const r = await request(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) throw new APIError(r.status, (body && (body.error || (typeof body.detail === 'string' && body.detail))) || (r.status + ' ' + r.statusText), body);
    return body;
  }

  function notice(msg) {
    // While the sign-in form is shown, the views' complaints wait.
    if (msg && auth.signedOut) return;
    const n = $('#notice');
    n.textContent = msg || '';
    n.hidden = !msg;
  }

  function explain(err) {
    if (err.status === 401) {
      if (auth.accounts) return 'Sign in to see this.';
      $('#token').focus();
      return TOKEN_MSG;
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

  const VIEWS = ['list', 'patients', 'patient', 'session', 'upload', 'audit'];
  let shownView = '';

  function route() {
    routeGen++;
    clearTimers();
    notice('');
    // Signed out, the sign-in form stays; the address is kept, and shown
    // once signed in.
    if (auth.signedOut) return;
    $('#view-login').hidden = true;
    const h = location.hash || '#/';
    const [path, qs] = h.slice(1).split('?');
    const q = new URLSearchParams(qs || '');
    const previous = shownView;
    for (const v of VIEWS) $('#view-' + v).hidden = true;
    document.querySelectorAll('nav a').forEach((a) => a.removeAttribute('aria-current'));
    let m;
    const show = (v) => { shownView = v; $('#view-' + v).hidden = false; };
    if ((m = path.match(/^\/session\/([^/?#]+)/))) {
      show('session');
      view.sess = null;
      $('#s-export-state').textContent = '';
      showSession(decodeURIComponent(m[1]), routeGen);
    } else if ((m = path.match(/^\/patients\/([^/?#]+)/))) {
      show('patient');
      $('#nav-patients').setAttribute('aria-current', 'page');
      showPatient(decodeURIComponent(m[1]).toUpperCase(), q, routeGen, previous === 'patient');
    } else if (path.startsWith('/patients')) {
      show('patients');
      $('#nav-patients').setAttribute('aria-current', 'page');
      showPatients(routeGen);
    } else if (path.startsWith('/audit')) {
      show('audit');
      $('#nav-audit').setAttribute('aria-current', 'page');
      showAudit(q, routeGen);
    } else if (path.startsWith('/upload')) {
      show('upload');
      const p = q.get('patient');
      if (p && /^P\d+$/i.test(p)) $('#u-patient').value = p.toUpperCase();
      $('#nav-upload').setAttribute('aria-current', 'page');
      document.title = 'Upload: emgd';
    } else {
      show('list');
      $('#nav-sessions').setAttribute('aria-current', 'page');
      // The filter lives in the address (#/?patient=P001&status=failed):
      // a reload or the back button keeps it.
      const patient = (q.get('patient') || '').trim().toUpperCase();
      const status = q.get('status') || '';
      const wanted = { patient: /^P\d+$/.test(patient) ? patient : '', status: LIST_STATUSES.includes(status) ? status : '' };
      const same = wanted.patient === list.patient && wanted.status === list.status;
      if (!same) list.shown = 50;
      list.patient = wanted.patient;
      list.status = wanted.status;
      // Coming back to the list (or to another filter), the form shows the
      // filter in force; a refresh of the same filter leaves what is being
      // typed alone.
      if (!same || previous !== 'list') {
        $('#f-patient').value = list.patient;
        $('#f-status').value = list.status;
      }
      $('#nav-sessions').setAttribute('href', listHash());
      showList(routeGen, true);
    }
  }

  // ---------- session list ----------

  const list = { patient: '', status: '', shown: 50, cursor: null, failed: false };
  const LIST_STATUSES = ['pending', 'processing', 'completed', 'failed', 'rejected'];

  // listHash is the address of the list with the filter in force.
  function listHash() {
    const q = new URLSearchParams();
    if (list.patient) q.set('patient', list.patient);
    if (list.status) q.set('status', list.status);
    const s = q.toString();
    return '#/' + (s ? '?' + s : '');
  }

  // go shows the address h: a new address through the history (back
  // works), the same one again at once.
  function go(h) {
    if (location.hash === h || (h === '#/' && !location.hash)) route();
    else location.hash = h;
  }

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
      el('td', {}, el('a', { href: '#/patients/' + encodeURIComponent(s.patient_code), class: 'patient-link',
        'aria-label': 'Patient ' + s.patient_code + ': trends and settings' }, s.patient_code)),
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
    if (first) document.title = (list.patient ? list.patient + ' sessions' : 'Sessions') + ': emgd';
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

  // ---------- downloads ----------

  // filenameOf is the file name a Content-Disposition gives, else fallback.
  function filenameOf(r, fallback) {
    const m = /filename="?([^";]+)"?/.exec(r.headers.get('Content-Disposition') || '');
    return m ? m[1] : fallback;
  }

  // wireDownload makes link a's export or report work with the page's
  // credentials: its href is the real address (opened by the browser as
  // is when no token is in use), and with a token the file is fetched
  // through request and handed to the browser as a download (a report
  // then as an .html file to open and print: a page of its own needs
  // credentials a new tab would not have).
  function wireDownload(a, path, fallbackName, stateSel) {
    a.setAttribute('href', path);
    a.dataset.path = path;
    a.dataset.fallback = fallbackName;
    a.dataset.state = stateSel || '';
    if (a.dataset.wired) return;
    a.dataset.wired = '1';
    a.addEventListener('click', async (e) => {
      if (!token) return; // the browser follows the link
      e.preventDefault();
      const state = a.dataset.state ? $(a.dataset.state) : null;
      if (state) state.textContent = 'Preparing ' + a.dataset.fallback + '…';
      try {
        const r = await request(a.dataset.path);
        if (!r.ok) {
          let msg = r.status + ' ' + r.statusText;
          try { const b = await r.json(); msg = b.error || msg; } catch (err) { /* not JSON */ }
          throw new APIError(r.status, msg);
        }
        const blob = await r.blob();
        const name = filenameOf(r, a.dataset.fallback);
        const url = URL.createObjectURL(blob);
        const tmp = el('a', { href: url, download: name, hidden: true });
        document.body.append(tmp);
        tmp.click();
        tmp.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
        if (state) {
          state.textContent = 'Downloaded ' + name + ' (' + (blob.size < 10240 ? blob.size + ' bytes' : Math.round(blob.size / 1024) + ' KB') + ')' +
            (/html/.test(blob.type) ? ': open it and print (or save as PDF).' : '.');
        }
        a.dataset.downloaded = name;
      } catch (err) {
        if (state) state.textContent = 'Download failed: ' + explain(err);
      }
    });
  }

  // ---------- patients ----------

  async function showPatients(gen) {
    document.title = 'Patients: emgd';
    const state = $('#pl-state');
    try {
      const out = await api('/patients');
      if (gen !== routeGen) return;
      const body = $('#patients tbody');
      body.replaceChildren(...out.patients.map((p) => el('tr', { 'data-patient': p.patient_code },
        el('th', { scope: 'row' }, el('a', { href: '#/patients/' + encodeURIComponent(p.patient_code), class: 'code' }, p.patient_code)),
        el('td', { class: 'num', text: String(p.sessions) }),
        el('td', { class: 'num', text: String(p.completed) }),
        el('td', { class: 'num', text: String(p.failed) }),
        el('td', { text: deviceTime(p.last_recorded_at) }),
        el('td', { class: 'num', text: p.settings_version ? 'v' + p.settings_version : 'none' }))));
      setText(state, out.patients.length ? out.patients.length + ' patient' + (out.patients.length === 1 ? '' : 's') + '.' : 'No patients yet: a patient appears with its first session or settings.');
    } catch (err) {
      if (gen !== routeGen) return;
      notice(explain(err));
    }
  }

  // ---------- audit trail (admins) ----------

  const audit = { query: '', cursor: null };

  // auditFilterQuery is the audit form's filter as a query string, or
  // null (with the field marked) when a field is not valid.
  function auditFilterQuery() {
    const err = $('#audit-error');
    err.textContent = '';
    const p = $('#a-patient').value.trim().toUpperCase();
    if (p && !/^P\d+$/.test(p)) { err.textContent = 'The patient code is P followed by digits, e.g. P001.'; $('#a-patient').focus(); return null; }
    const from = $('#a-from').value, to = $('#a-to').value;
    if (from && to && from > to) { err.textContent = 'The first date is after the last.'; $('#a-from').focus(); return null; }
    const q = new URLSearchParams();
    if (p) q.set('patient', p);
    const u = $('#a-user').value.trim();
    if (u) q.set('user', u);
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    return q.toString();
  }

  function auditRow(e) {
    return el('tr', { 'data-action': e.action, 'data-user': e.user, 'data-target': e.target || '', 'data-patient': e.patient_code || '' },
      el('td', { text: serverTime(e.at) || '–' }),
      el('td', { text: (e.user || '(unknown email)') + (e.target ? ' → ' + e.target : '') }),
      el('td', {}, el('code', { text: e.action })),
      el('td', {}, e.patient_code ? el('a', { href: '#/patients/' + encodeURIComponent(e.patient_code), class: 'code' }, e.patient_code) : '–'),
      el('td', {}, e.session_id ? el('a', { href: '#/session/' + encodeURIComponent(e.session_id) }, e.session_id) : '–'),
      el('td', { text: e.ip || '–' }));
  }

  // showAudit lists GET /audit with the address's filter (patient, user,
  // from, to), newest first, a page at a time.
  async function showAudit(q, gen) {
    document.title = 'Audit trail: emgd';
    const keep = new URLSearchParams();
    for (const k of ['patient', 'user', 'from', 'to']) if (q.get(k)) keep.set(k, q.get(k));
    $('#a-patient').value = q.get('patient') || '';
    $('#a-user').value = q.get('user') || '';
    $('#a-from').value = DATE_RE.test(q.get('from') || '') ? q.get('from') : '';
    $('#a-to').value = DATE_RE.test(q.get('to') || '') ? q.get('to') : '';
    audit.query = keep.toString();
    audit.cursor = null;
    $('#audit-error').textContent = '';
    $('#audit tbody').replaceChildren();
    $('#audit-more').hidden = true;
    $('#audit-state').textContent = 'Loading…';
    await loadAudit(gen, true);
  }

  async function loadAudit(gen, first) {
    const q = new URLSearchParams(audit.query);
    q.set('limit', '100');
    if (!first && audit.cursor) q.set('cursor', audit.cursor);
    try {
      const page = await api('/audit?' + q.toString());
      if (gen !== routeGen) return;
      $('#audit tbody').append(...page.entries.map(auditRow));
      audit.cursor = page.next_cursor;
      $('#audit-more').hidden = !page.next_cursor;
      const n = $('#audit tbody').rows.length;
      setText($('#audit-state'), n ? n + ' entr' + (n === 1 ? 'y' : 'ies') + (page.next_cursor ? ' shown; more below.' : '.') : 'No entries match the filter.');
    } catch (err) {
      if (gen !== routeGen) return;
      $('#audit-state').textContent = '';
      $('#audit-error').textContent = err.status === 403 ? 'The audit trail is for admins.' : 'The audit trail could not be read: ' + explain(err);
    }
  }

  function moreAudit() {
    if (audit.cursor) loadAudit(routeGen, false);
  }

  // ---------- patient page ----------

  // base: the settings version and document the form was filled from
  // (sent back in If-Match on save); keepChannels: channels whose edits a
  // save made meanwhile would otherwise drop from the form.
  const pat = { code: '', known: false, savedVersion: 0, from: '', to: '', trends: null, current: null, history: [], dirty: false,
    lastRecorded: null, mvcEstimate: null, polls: 0, queuedVersion: 0, base: null, keepChannels: [] };
  const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
  const DEFAULTS = { threshold_pct: 75, duration_threshold_ms: 2000, expected_contractions: 12, sessions_per_week: 3 };
  const WEIGHTS = [['w_compliance', 'compliance', 0.5], ['w_symmetry', 'symmetry', 0.25], ['w_effort', 'effort', 0.25], ['w_game', 'game', 0],
    ['w_completion', 'completion', 0.333], ['w_intensity', 'intensity', 0.333], ['w_duration', 'duration', 0.334]];

  function rangeQuery(from, to) {
    const q = new URLSearchParams();
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    const s = q.toString();
    return s ? '?' + s : '';
  }

  function patientHash(code, from, to) {
    return '#/patients/' + encodeURIComponent(code) + rangeQuery(from, to);
  }

  // day is the recording date (YYYY-MM-DD) of a device time.
  function day(s) {
    return s ? String(s).slice(0, 10) : '';
  }

  function muscleLabel(base, muscle) {
    return muscle ? base + ' · ' + muscle : base;
  }

  // showPatient shows a patient's trends over the range of the address,
  // weekly adherence, sessions, exports and settings. again: the same
  // patient's page was shown already (the form being edited is kept).
  async function showPatient(code, q, gen, again) {
    if (!/^P\d+$/.test(code)) {
      notice('The patient code is P followed by digits, e.g. P001.');
      return;
    }
    const from = DATE_RE.test(q.get('from') || '') ? q.get('from') : '';
    const to = DATE_RE.test(q.get('to') || '') ? q.get('to') : '';
    if (pat.code !== code) {
      Object.assign(pat, { code, savedVersion: 0, trends: null, current: null, history: [], dirty: false, lastRecorded: null, mvcEstimate: null, queuedVersion: 0,
        base: null, keepChannels: [] });
      $('#reanalyze-box').hidden = true;
      $('#re-state').textContent = '';
      $('#set-state').textContent = '';
      $('#mvc-state').textContent = '';
      $('#mvc-use').hidden = true;
      $('#p-export-state').textContent = '';
      again = false;
    }
    pat.from = from;
    pat.to = to;
    document.title = 'Patient ' + code + ': emgd';
    setText($('#p-title'), 'Patient ' + code);
    $('#p-from').value = from;
    $('#p-to').value = to;
    $('#p-range-error').textContent = '';
    $('#p-list-link').setAttribute('href', '#/?patient=' + encodeURIComponent(code));
    const rq = rangeQuery(from, to);
    wireDownload($('#p-csv'), '/patients/' + encodeURIComponent(code) + '/export.csv' + rq, code + '.csv', '#p-export-state');
    wireDownload($('#p-report'), '/patients/' + encodeURIComponent(code) + '/report' + rq, code + '-report.html', '#p-export-state');
    if (!again) {
      $('#p-charts').replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
      $('#p-weeks').replaceChildren();
      $('#p-sessions tbody').replaceChildren();
    }
    await loadPatient(gen, !again || !pat.dirty);
  }

  // loadPatient reads the trends and the settings and draws the page;
  // withForm: the settings form is filled again from the server.
  async function loadPatient(gen, withForm) {
    const code = pat.code;
    const rq = rangeQuery(pat.from, pat.to);
    const enc = encodeURIComponent(code);
    const missing = (err) => { if (err.status === 404) return null; throw err; };
    let trends, current, history;
    try {
      [trends, current, history] = await Promise.all([
        api('/patients/' + enc + '/trends' + rq).catch(missing),
        api('/patients/' + enc).catch(missing),
        api('/patients/' + enc + '/settings/history').catch(missing),
      ]);
    } catch (err) {
      if (gen !== routeGen) return;
      $('#p-charts').replaceChildren(el('p', { class: 'error-text', text: 'The trends could not be read: ' + explain(err) }));
      notice(explain(err));
      return;
    }
    if (gen !== routeGen) return;
    pat.trends = trends || { patient_code: code, sessions: [], weeks: [] };
    pat.current = current || { patient_code: code, settings: {}, settings_version: 0, updated_at: null, updated_by: null };
    pat.history = (history && history.versions) || [];
    pat.known = !!(trends || current);
    const ss = pat.trends.sessions;
    if (ss.length) pat.lastRecorded = ss[ss.length - 1].recorded_at || pat.lastRecorded;
    showSummary();
    drawTrends();
    drawWeeks();
    drawPatientSessions();
    // A form nobody is editing follows a version saved elsewhere.
    if (withForm || (!pat.dirty && pat.base && pat.base.version !== pat.current.settings_version)) fillSettings();
    else showSettingsSource();
    showHistory();
    offerReanalysis();
    fillMVCSessions();
    const busy = pat.trends.sessions.some((x) => x.status === 'pending' || x.status === 'processing');
    if (busy || pat.polls > 0) {
      if (pat.polls > 0) pat.polls--;
      later(() => loadPatient(gen, false), 2500);
    }
  }

  function showSummary() {
    if (!pat.known) {
      setText($('#p-summary'), 'No session or settings name ' + pat.code + ' yet. Targets saved below apply to its first session.');
      return;
    }
    const ss = pat.trends.sessions;
    const done = ss.filter((x) => x.status === 'completed').length;
    setText($('#p-summary'), ss.length + ' session' + (ss.length === 1 ? '' : 's') + (pat.from || pat.to ? ' recorded ' + (pat.from ? 'from ' + pat.from + ' ' : '') + (pat.to ? 'to ' + pat.to : '') : ' in all') +
      ' (' + done + ' analysed)' + '; settings ' + (pat.current.settings_version ? 'version ' + pat.current.settings_version : 'not set (defaults)') + '.');
  }

  function channelsOf() {
    const set = new Set();
    for (const s of (pat.trends ? pat.trends.sessions : [])) for (const b of Object.keys(s.channels || {})) set.add(b);
    const doc = (pat.current && pat.current.settings) || {};
    for (const k of ['muscle_names', 'mvc', 'mvc_threshold_pct', 'expected_contractions_per_channel', 'duration_thresholds_s']) {
      for (const b of Object.keys(doc[k] || {})) if (b !== 'left' && b !== 'right') set.add(b);
    }
    for (const b of pat.keepChannels) set.add(b);
    if (!set.size) { set.add('CH1'); set.add('CH2'); }
    return [...set].sort();
  }

  function muscleOf(base) {
    const names = (pat.current && pat.current.settings && pat.current.settings.muscle_names) || {};
    if (names[base]) return names[base];
    for (const s of (pat.trends ? pat.trends.sessions : [])) {
      const c = s.channels && s.channels[base];
      if (c && c.muscle) return c.muscle;
    }
    return '';
  }

  function categories(sessions) {
    return sessions.map((s) => {
      const d = deviceTime(s.recorded_at);
      return { label: d === '–' ? s.session_code : d.slice(5, 10), sub: s.session_code.replace(/^P\d+/, ''), full: s.session_code + ' (' + d + ')' };
    });
  }

  function drawTrends() {
    const box = $('#p-charts');
    const ss = pat.trends.sessions.filter((s) => s.channels && Object.keys(s.channels).length);
    if (!ss.length) {
      box.replaceChildren(el('p', { class: 'muted', text: pat.trends.sessions.length ? 'No session of the range has been analysed yet.' : 'No sessions in this range.' }));
      return;
    }
    const cats = categories(ss);
    const C = window.emgdCharts;
    const figs = [];
    const bases = [...new Set(ss.flatMap((s) => Object.keys(s.channels)))].sort();
    for (const b of bases) {
      const ch = (s) => s.channels[b] || null;
      const pick = (k) => ss.map((s) => (ch(s) ? ch(s)[k] : null));
      const good = pick('good'), exp = pick('expected');
      const last = ss.length - 1;
      figs.push(C.bars({ id: 'contractions-' + b, title: muscleLabel(b, muscleOf(b)) + ': contractions',
        note: 'latest: ' + (good[last] == null ? '–' : good[last]) + ' good of ' + (exp[last] == null ? '–' : exp[last]) + ' expected',
        summary: ss.length + ' sessions; good contractions ' + good.map((v) => (v == null ? 'none' : v)).join(', ') + '; expected ' + exp.map((v) => (v == null ? 'none' : v)).join(', '),
        categories: cats, format: count, yLabel: 'contractions',
        series: [{ name: 'All', values: pick('contractions'), style: 0 }, { name: 'MVC met', values: pick('mvc_compliant'), style: 2 },
          { name: 'Duration met', values: pick('duration_compliant'), style: 3 }, { name: 'Good (both)', values: good, style: 1 }],
        target: { name: 'Expected', values: exp } }));
    }
    const scoreKeys = [['overall_score', 'Overall'], ['compliance_score', 'Compliance'], ['symmetry_score', 'Symmetry'], ['effort_score', 'Effort']];
    const noRPE = ss.filter((s) => s.effort_score == null).length;
    figs.push(C.lines({ id: 'scores', title: 'Scores', note: '(0–100)' + (noRPE ? '; effort missing for ' + noRPE + ' session' + (noRPE === 1 ? '' : 's') + ': no RPE recorded' : ''),
      summary: 'overall ' + ss.map((s) => num(s.overall_score)).join(', '), categories: cats, yMin: 0, yMax: 100, format: num, yLabel: 'score',
      series: scoreKeys.map(([k, name]) => ({ name, values: ss.map((s) => s[k]) })) }));
    figs.push(C.lines({ id: 'fatigue', title: 'Fatigue index (FI nsm5)', note: 'rises with fatigue (spectral ratio of the whole session)',
      summary: bases.map((b) => b + ' ' + ss.map((s) => num(s.channels[b] && s.channels[b].fatigue_index)).join(', ')).join('; '),
      categories: cats, format: num, yLabel: 'FI nsm5',
      series: bases.map((b) => ({ name: muscleLabel(b, muscleOf(b)), values: ss.map((s) => (s.channels[b] ? s.channels[b].fatigue_index : null)) })) }));
    figs.push(C.lines({ id: 'mdf', title: 'Median frequency (Hz)', note: 'falls with fatigue',
      summary: bases.map((b) => b + ' ' + ss.map((s) => num(s.channels[b] && s.channels[b].mdf)).join(', ')).join('; '),
      categories: cats, format: num, yLabel: 'Hz', zero: true,
      series: bases.map((b) => ({ name: muscleLabel(b, muscleOf(b)), values: ss.map((s) => (s.channels[b] ? s.channels[b].mdf : null)) })) }));
    const mvcFig = el('div', { id: 'p-mvc-chart', class: 'trend-slot' });
    figs.push(mvcFig);
    box.replaceChildren(...figs);
    drawMVC();
  }

  // mvcOf is the MVC an analysis used for base, and whether it was
  // estimated from the session: the threshold divided by its percentage.
  function mvcOf(sess, base) {
    const a = sess && sess.analysis;
    const an = a && a.analytics_summary && a.analytics_summary.analytics && a.analytics_summary.analytics[base];
    if (!an || an.mvc75_threshold == null) return null;
    const p = a.params || {};
    const pct = (p.mvc_threshold_pct && p.mvc_threshold_pct[base] != null) ? p.mvc_threshold_pct[base] : p.threshold_pct != null ? p.threshold_pct : 75;
    return { mvc: an.mvc75_threshold / (pct / 100), pct, threshold: an.mvc75_threshold, estimated: an.mvc_estimation_method === 'backend_estimation', method: an.mvc_estimation_method };
  }

  // trendMVC is the MVC a session's analysis used for base, as the trends
  // give it, and whether it was estimated from the session.
  function trendMVC(s, base) {
    const c = s && s.channels && s.channels[base];
    return c && c.mvc != null ? { mvc: c.mvc, estimated: !!c.mvc_estimated } : null;
  }

  // drawMVC charts the MVC of every session from the trends' answer (no
  // request per session).
  function drawMVC() {
    const slot = $('#p-mvc-chart');
    if (!slot) return;
    const ss = pat.trends.sessions.filter((s) => s.channels && Object.keys(s.channels).length);
    const cats = categories(ss);
    const bases = [...new Set(ss.flatMap((s) => Object.keys(s.channels)))].sort();
    if (!ss.length) { slot.replaceChildren(); return; }
    const series = bases.map((b) => {
      const vals = ss.map((s) => trendMVC(s, b));
      return { name: muscleLabel(b, muscleOf(b)), values: vals.map((v) => (v ? v.mvc : null)), hollow: vals.map((v) => !!(v && v.estimated)),
        notes: vals.map((v) => (v ? (v.estimated ? 'estimated from the session' : 'set in the settings') : '')) };
    });
    slot.replaceChildren(window.emgdCharts.lines({ id: 'mvc', title: 'MVC (V)', note: 'per session; hollow: estimated from the session',
      summary: series.map((s) => s.name + ' ' + s.values.map(num).join(', ')).join('; '), categories: cats, format: num, yLabel: 'V', zero: true,
      hollowNote: 'hollow marker: estimated from that session (no MVC set)', series }));
  }

  function drawWeeks() {
    const box = $('#p-weeks');
    const ws = pat.trends.weeks || [];
    if (!ws.length) {
      box.replaceChildren(el('p', { class: 'muted', text: 'No weeks in this range.' }));
      return;
    }
    const cats = ws.map((w) => ({ label: w.week.replace(/^\d{4}-/, ''), sub: w.adherence == null ? '' : Math.round(w.adherence) + ' %', full: w.week }));
    const total = ws.reduce((a, w) => a + w.sessions, 0), presc = ws.reduce((a, w) => a + w.prescribed, 0);
    box.replaceChildren(window.emgdCharts.bars({ id: 'adherence', title: 'Sessions done against prescribed, per ISO week', categoryName: 'Week',
      note: total + ' of ' + presc + ' prescribed in ' + ws.length + ' week' + (ws.length === 1 ? '' : 's') + (presc ? ' (' + Math.round(Math.min(100, (100 * total) / presc)) + ' %)' : ''),
      summary: ws.map((w) => w.week + ' ' + w.sessions + ' of ' + w.prescribed).join(', '), categories: cats, format: count, yLabel: 'sessions',
      series: [{ name: 'Done', values: ws.map((w) => w.sessions), style: 1 }], target: { name: 'Prescribed', values: ws.map((w) => w.prescribed) } }));
  }

  function drawPatientSessions() {
    const body = $('#p-sessions tbody');
    const ss = pat.trends.sessions.slice().reverse();
    if (!ss.length) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No sessions in this range.' })));
      return;
    }
    body.replaceChildren(...ss.map((s) => {
      const chs = Object.keys(s.channels || {}).sort().map((b) => muscleLabel(b, s.channels[b].muscle) + ' ' + s.channels[b].good + '/' + s.channels[b].expected);
      const csv = el('a', { href: '#', download: '', class: 'file-link' }, 'CSV');
      const rep = el('a', { href: '#', target: '_blank', rel: 'noopener', class: 'file-link' }, 'report');
      wireDownload(csv, '/sessions/' + encodeURIComponent(s.session_id) + '/export.csv', s.session_code + '.csv', '#p-export-state');
      wireDownload(rep, '/sessions/' + encodeURIComponent(s.session_id) + '/report', s.session_code + '-report.html', '#p-export-state');
      const stale = pat.current && s.settings_version !== pat.current.settings_version;
      return el('tr', { 'data-id': s.session_id, 'data-code': s.session_code },
        el('th', { scope: 'row' }, el('a', { href: '#/session/' + encodeURIComponent(s.session_id), class: 'code' }, s.session_code)),
        el('td', { text: deviceTime(s.recorded_at) }),
        el('td', {}, statusBadge(s.status)),
        el('td', { class: 'wrap', text: chs.length ? chs.join(' · ') : '–' }),
        el('td', { class: 'num', text: num(s.overall_score) }),
        el('td', { class: 'num' + (stale ? ' stale' : ''), title: stale ? 'analysed with older settings than those in force' : null,
          text: (s.settings_version ? 'v' + s.settings_version : 'none') + (stale ? ' (older)' : '') }),
        el('td', {}, csv, ' ', rep));
    }));
  }

  // ----- settings form -----

  // A field of the form: key (the settings document's), the channel for
  // per-channel maps, and whether it is an integer or text.
  const SCALARS = [['threshold_pct', 'number'], ['duration_threshold_ms', 'number'], ['expected_contractions', 'int'], ['sessions_per_week', 'int'], ['bfr_pressure_aop', 'number']];
  const PER_CHANNEL = [['muscle_names', 'text', 'Muscle name', 'e.g. Left quadriceps'], ['mvc', 'number', 'MVC (V)', 'estimated'],
    ['mvc_threshold_pct', 'number', 'MVC threshold (%)', 'all'], ['expected_contractions_per_channel', 'int', 'Expected contractions', 'all'],
    ['duration_thresholds_s', 'number', 'Duration threshold (s)', 'all']];

  function fieldId(key, ch) {
    return 'set-' + key + (ch ? '-' + ch.replace(/[^A-Za-z0-9_-]/g, '_') : '');
  }

  function errId(key, ch) {
    return 'err-' + key + (ch ? '-' + ch.replace(/[^A-Za-z0-9_-]/g, '_') : '');
  }

  function valueIn(doc, key, ch) {
    if (!doc) return undefined;
    if (ch) return doc[key] ? doc[key][ch] : undefined;
    return doc[key];
  }

  function same(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  // sourceOf says since which version (and by whom, when) a field has the
  // value it has now: the oldest of the newest versions that all hold it.
  function sourceOf(key, ch) {
    const cur = pat.current;
    if (!cur || !cur.settings_version) return null;
    const v = valueIn(cur.settings, key, ch);
    if (v === undefined) return null;
    let since = { settings_version: cur.settings_version, updated_by: cur.updated_by, updated_at: cur.updated_at };
    for (const h of pat.history) {
      if (h.settings_version > cur.settings_version) continue;
      if (!same(valueIn(h.settings, key, ch), v)) break;
      since = h;
    }
    return since;
  }

  function sourceText(key, ch, unset) {
    const s = sourceOf(key, ch);
    if (!s) return unset;
    return 'set in version ' + s.settings_version + ' by ' + (s.updated_by || 'unknown') + ', ' + (serverTime(s.updated_at) || 'time unknown');
  }

  function inputFor(key, kind, ch, label, placeholder) {
    const id = fieldId(key, ch);
    return [el('label', { for: id, class: 'visually-hidden', text: ch + ' ' + label }),
      el('input', { id, 'data-key': key, 'data-ch': ch, type: kind === 'text' ? 'text' : 'number', step: kind === 'int' ? '1' : 'any',
        inputmode: kind === 'text' ? null : kind === 'int' ? 'numeric' : 'decimal', placeholder, size: kind === 'text' ? 18 : 8,
        'aria-describedby': errId(key, ch) + ' src-' + key + '-' + ch }),
      el('small', { id: 'src-' + key + '-' + ch, class: 'src' }),
      el('span', { id: errId(key, ch), class: 'field-error', role: 'alert' })];
  }

  // formFields lists the form's inputs: each one's id, a name for
  // messages, and the text it shows for a settings document.
  function formFields() {
    const text = (v) => (v == null ? '' : String(v));
    const out = [];
    for (const [key] of SCALARS) {
      out.push({ id: fieldId(key), ch: '', name: (($('label[for="' + fieldId(key) + '"]') || {}).textContent || key), show: (d) => text(valueIn(d, key)) });
    }
    for (const ch of channelsOf()) {
      for (const [key, , label] of PER_CHANNEL) out.push({ id: fieldId(key, ch), ch, name: ch + ' ' + label.toLowerCase(), show: (d) => text(valueIn(d, key, ch)) });
    }
    for (const [k, name] of WEIGHTS) out.push({ id: 'set-' + k, ch: '', name: name + ' weight', show: (d) => text(d && d.weights ? d.weights[k] : undefined) });
    return out;
  }

  // fillSettings fills the form from the version in force, which becomes
  // the form's base (the version a save names in If-Match).
  function fillSettings() {
    const doc = (pat.current && pat.current.settings) || {};
    const body = $('#set-channels tbody');
    body.replaceChildren(...channelsOf().map((ch) => el('tr', { 'data-ch': ch },
      el('th', { scope: 'row', text: ch }),
      ...PER_CHANNEL.map(([key, kind, label, ph]) => el('td', {}, ...inputFor(key, kind, ch, label, ph === 'all' ? placeholderAll(key) : ph))))));
    for (const f of formFields()) {
      const input = document.getElementById(f.id);
      if (input) input.value = f.show(doc);
    }
    $('#set-weights-box').open = !!doc.weights;
    pat.base = { version: (pat.current && pat.current.settings_version) || 0, doc: JSON.parse(JSON.stringify(doc)) };
    clearFieldErrors();
    pat.dirty = false;
    showSettingsSource();
  }

  function placeholderAll(key) {
    return { mvc_threshold_pct: 'as below', expected_contractions_per_channel: 'as below', duration_thresholds_s: 'as below' }[key] || '';
  }

  // latestMVC is the MVC the newest analysed session estimated for base.
  function latestMVC(base) {
    const ss = pat.trends ? pat.trends.sessions : [];
    for (let i = ss.length - 1; i >= 0; i--) {
      const v = trendMVC(ss[i], base);
      if (v && v.estimated) return { v, s: ss[i] };
    }
    return null;
  }

  // showSettingsSource says which version is in force, who saved it and
  // when, and for each field where its value comes from.
  function showSettingsSource() {
    const cur = pat.current || { settings_version: 0 };
    const box = $('#set-source');
    if (!cur.settings_version) {
      box.replaceChildren(el('strong', { text: 'No settings saved: ' }), 'the defaults apply (version 0). MVC is estimated from each session; ' +
        'MVC threshold 75 %, duration threshold 2000 ms, 12 expected contractions per muscle, 3 sessions a week.');
    } else {
      box.replaceChildren(el('strong', { id: 'set-version', 'data-version': String(cur.settings_version), text: 'Version ' + cur.settings_version + ' in force' }),
        ', saved by ' + (cur.updated_by || 'unknown') + ' on ' + (serverTime(cur.updated_at) || '–') + '.');
    }
    const doc = cur.settings || {};
    for (const [key] of SCALARS) {
      const def = DEFAULTS[key];
      $('#src-' + key).textContent = sourceText(key, null, def != null ? 'default: ' + def : key === 'bfr_pressure_aop' ? 'not set: BFR not counted' : 'not set');
    }
    for (const ch of channelsOf()) {
      for (const [key] of PER_CHANNEL) {
        const small = document.getElementById('src-' + key + '-' + ch);
        if (!small) continue;
        let unset = '';
        if (key === 'mvc') {
          if (doc.mvc_global != null) unset = 'session-wide MVC ' + num(doc.mvc_global) + ' V';
          else {
            const l = latestMVC(ch);
            unset = 'estimated from each session' + (l ? ' (latest ' + num(l.v.mvc) + ' V, ' + l.s.session_code + ')' : '');
          }
        } else if (key === 'muscle_names') unset = 'not named';
        small.textContent = sourceText(key, ch, unset);
      }
    }
    $('#src-weights').textContent = sourceText('weights', null, 'default weights');
  }

  function showHistory() {
    const list = $('#set-versions');
    const hs = pat.history;
    $('#set-history').hidden = !hs.length;
    list.replaceChildren(...hs.map((h) => el('li', { value: String(h.settings_version) },
      el('strong', { text: 'Version ' + h.settings_version }), ' by ' + h.updated_by + ', ' + (serverTime(h.updated_at) || '') + ': ',
      el('code', { text: JSON.stringify(h.settings) }))));
  }

  function clearFieldErrors() {
    document.querySelectorAll('#settings-form .field-error').forEach((e) => { e.textContent = ''; });
    document.querySelectorAll('#settings-form [aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
    $('#set-error').textContent = '';
    $('#set-conflict').hidden = true;
    document.querySelectorAll('#settings-form .clash').forEach((e) => e.classList.remove('clash'));
  }

  // readForm is the settings document the form was filled from with the
  // form's values: keys the form does not show are kept as they are.
  function readForm() {
    const doc = JSON.parse(JSON.stringify(pat.base ? pat.base.doc : (pat.current && pat.current.settings) || {}));
    const parse = (input, kind) => {
      const raw = input.value.trim();
      if (raw === '') return undefined;
      if (kind === 'text') return raw;
      const n = Number(raw);
      return isFinite(n) ? n : raw;
    };
    for (const [key, kind] of SCALARS) {
      const v = parse($('#' + fieldId(key)), kind);
      if (v === undefined) delete doc[key]; else doc[key] = v;
    }
    for (const [key, kind] of PER_CHANNEL) {
      const m = Object.assign({}, doc[key] || {});
      for (const ch of channelsOf()) {
        const input = document.getElementById(fieldId(key, ch));
        if (!input) continue;
        const v = parse(input, kind);
        if (v === undefined) delete m[ch]; else m[ch] = v;
      }
      if (Object.keys(m).length) doc[key] = m; else delete doc[key];
    }
    const given = WEIGHTS.filter(([k]) => $('#set-' + k).value.trim() !== '');
    if (!given.length) delete doc.weights;
    else {
      doc.weights = {};
      for (const [k, , def] of WEIGHTS) {
        const raw = $('#set-' + k).value.trim();
        doc.weights[k] = raw === '' ? def : Number(raw);
      }
    }
    return doc;
  }

  // showFieldError puts the server's 422 message ("invalid parameter
  // mvc: value for CH1 must be ...") next to the field it names.
  function showFieldError(message) {
    const m = /invalid parameter ([A-Za-z0-9_.]+): (.*)$/.exec(message || '');
    let target = null, input = null;
    if (m) {
      const [field, sub] = m[1].split('.');
      const chm = /(?:value for|percentage for|channel) "?([A-Za-z0-9_ -]+?)"?(?: must|:|$)/.exec(m[2]);
      const ch = chm ? chm[1] : sub;
      if (ch) {
        target = document.getElementById(errId(field, ch));
        input = document.getElementById(fieldId(field, ch));
      }
      if (!target) {
        target = document.getElementById(errId(field));
        input = document.getElementById(fieldId(field)) || (field === 'weights' ? $('#set-w_compliance') : null);
      }
      if (field === 'weights') $('#set-weights-box').open = true;
    }
    if (!target) target = $('#set-error');
    target.textContent = message;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
    return target;
  }

  async function saveSettings(e) {
    e.preventDefault();
    clearFieldErrors();
    const doc = readForm();
    const state = $('#set-state');
    state.textContent = 'Saving…';
    $('#set-save').disabled = true;
    const gen = routeGen;
    // Saved only on the version the form was filled from: a version
    // saved meanwhile answers 412 instead of being replaced.
    const version = pat.base ? pat.base.version : (pat.current && pat.current.settings_version) || 0;
    try {
      const out = await api('/patients/' + encodeURIComponent(pat.code) + '/settings', { method: 'PUT', body: doc, headers: { 'If-Match': '"' + version + '"' } });
      if (gen !== routeGen) return;
      pat.current = out;
      pat.dirty = false;
      pat.keepChannels = [];
      state.textContent = 'Saved as version ' + out.settings_version + '.';
      try {
        const h = await api('/patients/' + encodeURIComponent(pat.code) + '/settings/history');
        if (gen !== routeGen) return;
        pat.history = h.versions || [];
      } catch (err) { /* the page still shows the version saved */ }
      pat.known = true;
      pat.savedVersion = out.settings_version;
      fillSettings();
      showHistory();
      offerReanalysis(true);
      drawPatientSessions();
      showSummary();
      // The prescription and the muscle names reach the trends at once.
      later(() => loadPatient(gen, false), 0);
    } catch (err) {
      if (gen !== routeGen) return;
      state.textContent = '';
      if (err.status === 422) showFieldError(err.message);
      else if (err.status === 412) await settingsConflict(gen, err);
      else $('#set-error').textContent = 'Not saved: ' + explain(err);
    } finally {
      $('#set-save').disabled = false;
    }
  }

  // settingsConflict follows a 412: a version was saved after the one the
  // form was filled from. That version becomes the one in force on the
  // page and the form's base; the fields the user changed keep their
  // values, the others show the new version's, and the fields both
  // changed are marked. The next save names the new version.
  async function settingsConflict(gen, conflict) {
    const enc = encodeURIComponent(pat.code);
    const missing = (err) => { if (err.status === 404) return null; throw err; };
    let cur, hist;
    try {
      [cur, hist] = await Promise.all([api('/patients/' + enc).catch(missing), api('/patients/' + enc + '/settings/history').catch(() => null)]);
    } catch (err) {
      if (gen !== routeGen) return;
      $('#set-error').textContent = 'Not saved: ' + explain(conflict) + ' The version in force could not be read (' + explain(err) + '): reload the page.';
      return;
    }
    if (gen !== routeGen) return;
    const base = (pat.base && pat.base.doc) || {};
    const edits = [];
    for (const f of formFields()) {
      const input = document.getElementById(f.id);
      if (input && input.value.trim() !== f.show(base)) edits.push({ f, value: input.value });
    }
    pat.current = cur || { patient_code: pat.code, settings: {}, settings_version: 0, updated_at: null, updated_by: null };
    if (hist) pat.history = hist.versions || [];
    pat.known = true;
    pat.keepChannels = [...new Set(edits.filter((e) => e.f.ch && e.value.trim() !== '').map((e) => e.f.ch))];
    fillSettings();
    const theirs = pat.current.settings || {};
    const clashes = [];
    for (const { f, value } of edits) {
      const input = document.getElementById(f.id);
      if (!input) continue;
      const t = f.show(theirs);
      if (t !== f.show(base) && t !== value.trim()) {
        clashes.push(f.name + ' (theirs: ' + (t || 'empty') + ', yours: ' + (value.trim() || 'empty') + ')');
        input.classList.add('clash');
      }
      input.value = value;
      if (f.id.startsWith('set-w_')) $('#set-weights-box').open = true;
    }
    pat.dirty = edits.length > 0;
    showHistory();
    showSummary();
    offerReanalysis();
    const c = pat.current;
    const who = c.settings_version
      ? 'Saved meanwhile by ' + (c.updated_by || 'someone') + ' at ' + (serverTime(c.updated_at) || 'an unknown time') + ' as version ' + c.settings_version
      : 'The settings changed meanwhile (now version ' + c.settings_version + ')';
    setText($('#set-conflict-text'), who + ': ' + (edits.length ? 'your changes are kept in the form; review and save again.' : 'the form shows that version now.') +
      (clashes.length ? ' Changed by both: ' + clashes.join('; ') + '.' : ''));
    $('#set-conflict').hidden = false;
    $('#set-conflict').dataset.version = String(c.settings_version);
  }

  // loadTheirs drops the form's edits for the version in force.
  function loadTheirs() {
    pat.keepChannels = [];
    fillSettings();
    $('#set-state').textContent = 'The form shows version ' + ((pat.current && pat.current.settings_version) || 0) + ' (your changes were dropped).';
  }

  // offerReanalysis shows the reanalysis box when sessions of the range
  // were analysed with other settings than those in force (always right
  // after a save).
  function offerReanalysis(saved) {
    const box = $('#reanalyze-box');
    const cur = pat.current;
    if (!cur || !pat.trends) { box.hidden = true; return; }
    const fresh = saved;
    saved = saved || (pat.savedVersion > 0 && pat.savedVersion === cur.settings_version);
    const ss = pat.trends.sessions;
    const stale = ss.filter((s) => s.settings_version !== cur.settings_version && s.status !== 'pending' && s.status !== 'processing');
    if (!saved && (!stale.length || !cur.settings_version)) {
      if (!pat.queuedVersion) box.hidden = true;
      return;
    }
    const versions = [...new Set(stale.map((s) => s.settings_version))].sort((a, b) => a - b);
    setText($('#re-intro'), (saved ? 'Version ' + cur.settings_version + ' is saved: new sessions use it. ' : '') +
      (stale.length ? stale.length + ' of the ' + ss.length + ' sessions shown were analysed with ' +
        (versions.length === 1 ? (versions[0] ? 'version ' + versions[0] : 'no settings') : 'versions ' + versions.map((v) => v || 'none').join(', ')) +
        '. Analyse them again with version ' + cur.settings_version + '? Their earlier results are kept.'
        : 'Every session shown was analysed with this version; you can still analyse a range again.'));
    if (fresh || box.hidden) {
      $('#re-from').value = pat.from;
      $('#re-to').value = pat.to;
    }
    box.hidden = false;
  }

  async function runReanalysis() {
    const state = $('#re-state');
    const from = $('#re-from').value, to = $('#re-to').value;
    if (from && to && from > to) { state.textContent = 'The first date is after the last.'; return; }
    const body = {};
    if (from) body.from = from;
    if (to) body.to = to;
    $('#re-run').disabled = true;
    state.textContent = 'Queuing…';
    const gen = routeGen;
    try {
      const out = await api('/patients/' + encodeURIComponent(pat.code) + '/reanalyze', { method: 'POST', body });
      if (gen !== routeGen) return;
      const n = out && out.sessions != null ? out.sessions : 0;
      pat.queuedVersion = (out && out.settings_version) || (pat.current && pat.current.settings_version) || 0;
      const skipped = out && Array.isArray(out.skipped) ? out.skipped.length : 0;
      state.replaceChildren(el('strong', { id: 're-queued', 'data-sessions': String(n), text: n + ' session' + (n === 1 ? '' : 's') + ' queued' }),
        ' for analysis with version ' + pat.queuedVersion + (skipped ? ' (' + skipped + ' left out: replaced by a newer upload)' : '') +
        '. The charts update as they finish.');
      pat.polls = 12;
      later(() => loadPatient(gen, false), 1500);
    } catch (err) {
      if (gen !== routeGen) return;
      state.textContent = (err.status === 404 || err.status === 405 ? 'This server cannot analyse a patient\'s sessions again (' + err.status + ').' : 'Not queued: ' + explain(err));
    } finally {
      $('#re-run').disabled = false;
    }
  }

  // ----- MVC from a session -----

  function fillMVCSessions() {
    const sel = $('#mvc-session');
    const ss = (pat.trends ? pat.trends.sessions : []).filter((s) => s.status === 'completed' || s.status === 'failed').slice().reverse();
    const keep = sel.value;
    sel.replaceChildren(...ss.map((s) => el('option', { value: s.session_id, text: s.session_code + ' (' + deviceTime(s.recorded_at) + ')' })));
    if (ss.some((s) => s.session_id === keep)) sel.value = keep;
    $('#mvc-run').disabled = !ss.length;
  }

  async function estimateMVC() {
    const state = $('#mvc-state');
    const id = $('#mvc-session').value;
    if (!id) return;
    state.textContent = 'Estimating…';
    $('#mvc-use').hidden = true;
    const gen = routeGen;
    try {
      const out = await api('/patients/' + encodeURIComponent(pat.code) + '/mvc', { method: 'POST', body: { session_id: id } });
      if (gen !== routeGen) return;
      const mvc = (out && (out.mvc || (out.settings && out.settings.mvc))) || {};
      const keys = Object.keys(mvc).sort();
      if (!keys.length) { state.textContent = 'No channel gave an estimate.'; return; }
      pat.mvcEstimate = mvc;
      const failedMap = out.failed_channels || out.failed || {};
      const failed = Object.keys(failedMap);
      state.textContent = 'Estimated MVC: ' + keys.map((b) => muscleLabel(b, muscleOf(b)) + ' ' + num(mvc[b]) + ' V').join(' · ') +
        (failed.length ? ' (no estimate for ' + failed.join(', ') + ')' : '') + '.';
      $('#mvc-use').hidden = false;
    } catch (err) {
      if (gen !== routeGen) return;
      state.textContent = (err.status === 404 || err.status === 405) && !err.body ? 'This server cannot estimate MVC yet.' : 'No estimate: ' + explain(err);
    }
  }

  function useMVC() {
    const mvc = pat.mvcEstimate || {};
    for (const [b, v] of Object.entries(mvc)) {
      const input = document.getElementById(fieldId('mvc', b));
      if (!input) continue;
      input.value = String(v);
    }
    pat.dirty = true;
    $('#set-state').textContent = 'MVC values put in the form: save to make them a new version.';
    $('#set-save').focus();
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
      // Another therapist's patient's session answers 404 too: as absent.
      notice(err.status === 404 ? 'Session not found: there is no session ' + id + ' among the patients you can see.' : explain(err));
      $('#s-title').textContent = err.status === 404 ? 'Session not found' : 'Session';
      view.id = null;
      view.sess = null;
      for (const sel of ['#s-meta', '#s-scores', '#s-compliance', '#chart-list']) $(sel).replaceChildren();
      showNotes(null);
      $('#s-status').replaceChildren();
      $('#s-failure').hidden = true;
      $('#s-replaced').hidden = true;
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
    const pl = $('#s-patient-link');
    pl.setAttribute('href', '#/patients/' + encodeURIComponent(sess.patient_code || ''));
    pl.textContent = 'Patient ' + sess.patient_code + ': trends and settings';
    wireDownload($('#s-csv'), '/sessions/' + encodeURIComponent(sess.id) + '/export.csv', sess.session_code + '.csv', '#s-export-state');
    wireDownload($('#s-report'), '/sessions/' + encodeURIComponent(sess.id) + '/report', sess.session_code + '-report.html', '#s-export-state');
    renderAnalytics(a ? a.analytics_summary.analytics : null);
    showNotes(a);
    renderReview(sess);
    sessionReview(sess, gen);
    if (sess.status === 'pending' || sess.status === 'processing') {
      later(() => showSession(id, gen), 1500);
    }
    if (first) setupCharts(gen);
  }

  // showNotes lists the analysis's warnings (analytics_summary.warnings:
  // e.g. the patient's settings for a channel the recording does not
  // have, left out of this session); hidden when there are none.
  function showNotes(a) {
    const ws = a && a.analytics_summary && Array.isArray(a.analytics_summary.warnings)
      ? a.analytics_summary.warnings.filter((w) => typeof w === 'string' && w) : [];
    const list = $('#s-notes-list');
    if (list.textContent !== ws.join('')) list.replaceChildren(...ws.map((w) => el('li', { text: w })));
    $('#s-notes').hidden = !ws.length;
  }

  // ---------- session review: parameters, compliance, scores, statistics ----------

  // sessionReview reads what the session's analysis was made with: the
  // settings version it recorded (from the patient's trends) and that
  // version's document and author (from the settings history), and the
  // muscle names. Read once per analysis.
  async function sessionReview(sess, gen) {
    const a = sess.analysis;
    const key = sess.id + '|' + (a ? a.created_at : '');
    if (view.review && view.review.key === key) return;
    view.review = { key, version: null, doc: null, info: null, muscles: {} };
    const code = sess.patient_code;
    if (!a || !code) return;
    const d = day(sess.recorded_at);
    const enc = encodeURIComponent(code);
    try {
      const tr = await api('/patients/' + enc + '/trends' + (d ? rangeQuery(d, d) : ''));
      if (gen !== routeGen || !view.review || view.review.key !== key) return;
      const row = (tr.sessions || []).find((s) => s.session_id === sess.id);
      // The analysis names its settings version itself; the trends' row
      // gives the muscle names.
      if (a.settings_version != null) view.review.version = a.settings_version;
      if (row) {
        if (a.settings_version == null) view.review.version = row.settings_version;
        for (const [b, c] of Object.entries(row.channels || {})) if (c.muscle) view.review.muscles[b] = c.muscle;
      }
      if (view.review.version) {
        const h = await api('/patients/' + enc + '/settings/history');
        if (gen !== routeGen || !view.review || view.review.key !== key) return;
        const v = (h.versions || []).find((x) => x.settings_version === view.review.version);
        if (v) { view.review.doc = v.settings; view.review.info = v; }
      }
    } catch (err) { /* the page shows what the session itself says */ }
    if (gen !== routeGen || !view.sess || view.sess.id !== sess.id) return;
    renderReview(view.sess);
  }

  function expectedFor(p, sc, base) {
    const per = p.expected_contractions_per_channel || {};
    if (per[base] != null) return per[base];
    if (sc) {
      if (sc.left_channel === base && per.left != null) return per.left;
      if (sc.right_channel === base && per.right != null) return per.right;
    }
    return p.expected_contractions != null ? p.expected_contractions : 12;
  }

  function pct(v) {
    return v == null || !isFinite(v) ? '–' : num(v * 100) + ' %';
  }

  // meter is a bar of 0..100 with its value in words beside it.
  function meter(v, label) {
    const w = v == null || !isFinite(v) ? 0 : Math.max(0, Math.min(100, v));
    return el('span', { class: 'meter', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': v == null ? null : String(+w.toFixed(1)), 'aria-label': label },
      el('span', { class: 'meter-fill', style: null, 'data-w': String(w) }));
  }

  function setMeterWidths(root) {
    // Widths through the CSSOM: the page's policy allows no inline styles.
    root.querySelectorAll('.meter-fill').forEach((f) => { f.style.width = f.dataset.w + '%'; });
  }

  function renderReview(sess) {
    const a = sess.analysis;
    const an = a ? a.analytics_summary.analytics || {} : {};
    const p = (a && a.params) || {};
    const sc = a && a.scores ? a.scores : null;
    const rv = view.review || { muscles: {} };
    const bases = Object.keys(an).filter((b) => an[b]).sort();
    const muscle = (b) => rv.muscles[b] || '';
    const side = (b) => (sc && sc.left_channel === b ? 'left' : sc && sc.right_channel === b ? 'right' : '');

    // Scores, each explained: its scale, how it is made, what is missing.
    const w = (sc && sc.weights) || { w_compliance: 0.5, w_symmetry: 0.25, w_effort: 0.25, w_game: 0 };
    const dl = $('#s-scores');
    dl.replaceChildren();
    const missing = [];
    if (sc) {
      if (sc.effort_score == null) missing.push('effort (no RPE recorded)');
      if (sc.game_score == null && w.w_game > 0) missing.push('game (no game points)');
      if (sc.symmetry_score == null) missing.push('symmetry (one muscle only)');
    }
    const rpe = p.rpe;
    const rows = !sc ? [] : [
      ['Overall', sc.overall_score, 'Weighted mean of compliance ×' + w.w_compliance + ', symmetry ×' + w.w_symmetry + ', effort ×' + w.w_effort +
        (w.w_game ? ', game ×' + w.w_game : '') + (missing.length ? '; left out: ' + missing.join(', ') + ', the other weights scaled up to 1.' : '.')],
      ['Compliance', sc.compliance_score, sc.compliance_score == null ? 'No muscle could be scored.'
        : 'Mean of the muscles\' compliance (' + bases.filter(side).map((b) => muscleLabel(b, muscle(b)) + ' ' + num(side(b) === 'left' ? sc.left_muscle_compliance : sc.right_muscle_compliance)).join(', ') + ')' +
          (sc.bfr_compliant === false ? ' × 0: the BFR pressure ' + num(p.bfr_pressure_aop) + ' % AOP is outside 45–55 %.' : p.bfr_pressure_aop != null ? '; BFR pressure ' + num(p.bfr_pressure_aop) + ' % AOP within 45–55 %.' : '; no BFR pressure recorded (counted as met).')],
      ['Symmetry', sc.symmetry_score, sc.symmetry_score == null ? 'Symmetry – needs a left and a right muscle.' : '1 − |left − right| / (left + right) of the two muscles\' compliance.'],
      ['Effort', sc.effort_score, sc.effort_score == null ? 'Effort – no RPE recorded: the patient\'s rating of perceived exertion (Borg CR-10, 0–10) was not given, so effort is left out of the overall score.'
        : 'From the RPE ' + count(rpe) + ' (Borg CR-10): 4–6 → 100, 3 or 7 → 80, 2 or 8 → 60, otherwise 20.'],
      ['Game', sc.game_score, sc.game_score == null ? 'Game – no game points recorded' + (w.w_game ? '.' : ' (weight 0: not counted anyway).') : 'Points / maximum points × 100' + (w.w_game ? '.' : ' (weight 0: not counted).')],
    ];
    if (!sc) dl.append(el('dt', { text: 'Scores' }), el('dd', { text: sess.status === 'completed' ? 'Not computed.' : 'Not yet: the session is not analysed.' }));
    for (const [name, v, why] of rows) {
      dl.append(el('dt', { text: name }), el('dd', { 'data-score': name.toLowerCase() },
        el('span', { class: 'score-value', text: v == null ? '–' : num(v) + ' / 100' }), ' ', meter(v, name + ' score'),
        el('span', { class: 'why', text: why })));
    }
    setMeterWidths(dl);

    // Compliance per muscle: completion, intensity, duration.
    const box = $('#s-compliance');
    box.replaceChildren(...bases.map((b) => {
      const c = an[b];
      const n = c.contraction_count, E = expectedFor(p, sc, b);
      const sd = side(b);
      const completion = sd && sc ? sc['completion_rate_' + sd] : Math.min(1, n / E);
      const intensity = sd && sc ? sc['intensity_rate_' + sd] : (n ? c.mvc_compliant_count / n : 0);
      const duration = sd && sc ? sc['duration_rate_' + sd] : (n ? c.duration_compliant_count / n : 0);
      const mc = sd && sc ? sc[sd + '_muscle_compliance'] : null;
      const cw = (sc && sc.weights) || { w_completion: 0.333, w_intensity: 0.333, w_duration: 0.334 };
      const line = (label, rate, detail) => el('div', { class: 'rate' }, el('span', { class: 'rate-label', text: label }),
        meter(rate == null ? null : rate * 100, b + ' ' + label), el('span', { class: 'rate-value', text: pct(rate) }), el('span', { class: 'why', text: detail }));
      return el('article', { class: 'card', 'data-channel': b, 'aria-label': muscleLabel(b, muscle(b)) },
        el('h4', {}, muscleLabel(b, muscle(b) || 'muscle not named'), sd ? el('span', { class: 'muted', text: ' (' + sd + ')' }) : null),
        el('p', { class: 'card-score' }, mc == null ? 'Muscle compliance –' : 'Muscle compliance ' + num(mc) + ' / 100',
          el('span', { class: 'muted', text: ' = ' + cw.w_completion + ' × completion + ' + cw.w_intensity + ' × intensity + ' + cw.w_duration + ' × duration' })),
        line('Completion', completion, n + ' of ' + E + ' expected contractions'),
        line('Intensity', intensity, c.mvc_compliant_count + ' of ' + n + ' reached the MVC threshold (' + num(c.mvc75_threshold) + ' V)'),
        line('Duration', duration, c.duration_compliant_count + ' of ' + n + ' lasted ' + num(c.duration_threshold_actual_value) + ' ms or more (mean ' + num(c.avg_duration_ms) + ' ms)'),
        el('p', { class: 'muted good-line', text: c.good_contraction_count + ' good contraction' + (c.good_contraction_count === 1 ? '' : 's') + ' (both thresholds met)' }));
    }));
    if (!bases.length) box.replaceChildren(el('p', { class: 'muted', text: 'No analysis yet.' }));
    setMeterWidths(box);

    renderParams(sess, bases, an, p, sc, muscle);
    renderTemporal(bases, an, muscle);
    // Muscle names in the channel table's header.
    const ths = $('#s-analytics').tHead.rows[0];
    if (ths) for (const th of ths.cells) if (th.dataset.base && muscle(th.dataset.base)) th.textContent = th.dataset.base + ' · ' + muscle(th.dataset.base);
  }

  // renderParams lists the thresholds and parameters the analysis used,
  // per muscle where they differ, each with where it came from: the
  // patient's settings version, given for this session, estimated from
  // the recording, or the default.
  function renderParams(sess, bases, an, p, sc, muscle) {
    const rv = view.review || {};
    const doc = rv.doc;
    const srcNote = $('#s-params-source');
    if (rv.version) {
      srcNote.textContent = 'Analysed with the patient\'s settings version ' + rv.version +
        (rv.info ? ' (saved by ' + rv.info.updated_by + ', ' + serverTime(rv.info.updated_at) + ')' : '') +
        (sess.analysis ? '; analysis of ' + serverTime(sess.analysis.created_at) + ', processing ' + sess.analysis.processing_version + '.' : '.');
    } else {
      srcNote.textContent = rv.version === 0 ? 'Analysed without patient settings (version 0): defaults, and anything given for this session.' : 'The settings version of this analysis is not known.';
    }
    const from = (key, sub) => {
      const v = sub != null ? (p[key] || {})[sub] : p[key];
      if (v === undefined) return null;
      const dv = doc ? (sub != null ? (doc[key] || {})[sub] : doc[key]) : undefined;
      return dv !== undefined && same(dv, v) ? 'settings v' + rv.version : 'given for this session';
    };
    const table = $('#s-params');
    table.tHead.replaceChildren(el('tr', {}, el('th', { scope: 'col', text: 'Parameter' }),
      ...bases.map((b) => el('th', { scope: 'col', text: muscleLabel(b, muscle(b)) })), el('th', { scope: 'col', text: 'Source' })));
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!sess.analysis) {
      body.append(el('tr', {}, el('td', { colspan: bases.length + 2, class: 'muted', text: 'No analysis yet.' })));
      return;
    }
    const perChannel = (label, cell, source) => {
      const cells = bases.map((b) => el('td', { class: 'num', text: cell(b) }));
      body.append(el('tr', { 'data-param': label }, el('th', { scope: 'row', text: label }), ...cells, el('td', { class: 'src-cell', text: sources(bases, source) })));
    };
    const whole = (label, value, source) => {
      body.append(el('tr', { 'data-param': label }, el('th', { scope: 'row', text: label }),
        el('td', { colspan: Math.max(1, bases.length), class: 'num', text: value }), el('td', { class: 'src-cell', text: source })));
    };
    const mvc = (b) => mvcOf(sess, b);
    perChannel('MVC (V)', (b) => (mvc(b) ? num(mvc(b).mvc) : '–'), (b) => {
      const m = mvc(b);
      if (!m) return '–';
      if (m.estimated) return 'estimated from this session (95th percentile of the envelope)';
      if (m.method === 'global_provided') return 'session-wide MVC, ' + (from('mvc_global') || 'given');
      return from('mvc', b) || 'given';
    });
    perChannel('MVC threshold (% of MVC)', (b) => (mvc(b) ? num(mvc(b).pct) + ' %' : '–'),
      (b) => from('mvc_threshold_pct', b) || from('threshold_pct') || 'default 75 %');
    perChannel('MVC threshold (V)', (b) => num(an[b].mvc75_threshold), () => 'MVC × threshold %');
    perChannel('Duration threshold (ms)', (b) => num(an[b].duration_threshold_actual_value),
      (b) => from('duration_thresholds_s', b) || from('duration_threshold_ms') || 'default 2000 ms');
    perChannel('Expected contractions', (b) => String(expectedFor(p, sc, b)),
      (b) => from('expected_contractions_per_channel', b) || from('expected_contractions') || 'default 12');
    whole('Minimum contraction (ms)', p.min_duration_ms != null ? num(p.min_duration_ms) : '100', from('min_duration_ms') || 'default');
    whole('Timing threshold (× peak)', (p.threshold_factor != null ? num(p.threshold_factor) : '0.10') + ' envelope, ' +
      (p.activated_threshold_factor != null ? num(p.activated_threshold_factor) : '0.05') + ' activated channel', from('threshold_factor') || from('activated_threshold_factor') || 'default');
    whole('Smoothing window (samples)', p.smoothing_window != null ? String(p.smoothing_window) : '100', from('smoothing_window') || 'default');
    whole('RPE (Borg CR-10)', rpeText(p.rpe), p.rpe != null ? from('rpe') : 'not recorded');
    whole('BFR pressure (% AOP)', p.bfr_pressure_aop != null ? num(p.bfr_pressure_aop) : 'none', p.bfr_pressure_aop != null ? from('bfr_pressure_aop') : 'not recorded');
    if (sc && sc.weights) {
      const ww = sc.weights;
      whole('Score weights', 'compliance ' + ww.w_compliance + ', symmetry ' + ww.w_symmetry + ', effort ' + ww.w_effort + ', game ' + ww.w_game +
        '; completion ' + ww.w_completion + ', intensity ' + ww.w_intensity + ', duration ' + ww.w_duration, from('weights') || (sc.scoring_config_id ? 'scoring configuration' : 'default'));
    }
    whole('Processing', sess.analysis.processing_version + (p.profile ? ' (profile ' + p.profile + ')' : ''), p.profile ? from('profile') : 'default profile');
  }

  // sources is one source when every channel's is the same, else each
  // channel's.
  function sources(bases, source) {
    const all = bases.map(source);
    if (all.every((v) => v === all[0])) return all[0] || '';
    return bases.map((b, i) => b + ': ' + all[i]).join('; ');
  }

  function rpeText(v) {
    return v == null ? 'none' : count(v);
  }

  // renderTemporal shows each feature over the recording's 1-second
  // windows as mean ± SD with its unit.
  function renderTemporal(bases, an, muscle) {
    const table = $('#s-temporal');
    const rows = [['RMS', 'rms_temporal_stats', 'V'], ['MAV', 'mav_temporal_stats', 'V'], ['Mean frequency (MPF)', 'mpf_temporal_stats', 'Hz'],
      ['Median frequency (MDF)', 'mdf_temporal_stats', 'Hz'], ['Fatigue index (FI nsm5)', 'fatigue_index_temporal_stats', '']];
    table.tHead.replaceChildren(el('tr', {}, el('th', { scope: 'col', text: 'Measure' }),
      ...bases.map((b) => el('th', { scope: 'col', class: 'num', text: muscleLabel(b, muscle(b)) })), el('th', { scope: 'col', text: 'Unit' })));
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!bases.length) {
      body.append(el('tr', {}, el('td', { colspan: 2, class: 'muted', text: 'No analysis yet.' })));
      return;
    }
    for (const [label, key, unit] of rows) {
      body.append(el('tr', {}, el('th', { scope: 'row', text: label }), ...bases.map((b) => {
        const t = an[b][key] || {};
        const txt = t.mean_value == null ? '–' : num(t.mean_value) + ' ± ' + num(t.std_value) + (unit ? ' ' + unit : '');
        return el('td', { class: 'num', title: t.valid_windows ? t.valid_windows + ' windows, min ' + num(t.min_value) + ', max ' + num(t.max_value) : null, text: txt });
      }), el('td', { text: unit || 'ratio (no unit)' })));
    }
    const n = bases.map((b) => (an[b].rms_temporal_stats || {}).valid_windows).find((v) => v != null);
    body.append(el('tr', {}, el('td', { colspan: bases.length + 2, class: 'muted', text: (n ? n + ' windows of 1 s, every 0.5 s. ' : '') +
      'Amplitudes in the recording\'s unit (volts for GHOSTLY recordings).' })));
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
    let err = null;
    try {
      await api('/sessions/' + encodeURIComponent(id) + '/recalc', { method: 'POST', body: {} });
    } catch (e) {
      err = e;
    }
    if (gen !== routeGen) return;
    if (!err) {
      state.textContent = 'The analysis is running again; this page updates when it ends.';
      view.sess = null;
      later(() => showSession(id, gen), 500);
      return;
    }
    $('#s-recalc').disabled = false;
    state.textContent = 'Recalculation refused: ' + (err.status === 0 ? 'the server cannot be reached.' : err.status === 401
      ? (auth.accounts ? 'sign in again.' : 'an access token is needed (top of the page).') : err.message);
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
      ['Contractions', 'contraction_count', 'count'], ['Good', 'good_contraction_count', 'count'],
      ['MVC met', 'mvc_compliant_count', 'count'], ['Duration met', 'duration_compliant_count', 'count'],
      ['MVC threshold', 'mvc75_threshold', 'V'], ['Avg duration (ms)', 'avg_duration_ms', 'ms'], ['Max amplitude', 'max_amplitude', 'V'],
      ['RMS', 'rms', 'V'], ['MAV', 'mav', 'V'], ['MPF (Hz)', 'mpf', 'Hz'], ['MDF (Hz)', 'mdf', 'Hz'], ['Fatigue index', 'fatigue_index_fi_nsm5', 'ratio'],
    ];
    const body = table.tBodies[0];
    const bases = an ? Object.keys(an).filter((b) => an[b]).sort() : [];
    table.tHead.replaceChildren(el('tr', {}, el('th', { scope: 'col', text: 'Measure' }),
      ...bases.map((b) => el('th', { scope: 'col', class: 'num', 'data-base': b, text: b })), el('th', { scope: 'col', text: 'Unit' })));
    body.replaceChildren();
    if (!bases.length) {
      body.append(el('tr', {}, el('td', { colspan: 2, class: 'muted', text: 'No analysis yet.' })));
      return;
    }
    for (const [label, k, unit] of rows) {
      body.append(el('tr', {}, el('th', { scope: 'row', text: label }), ...bases.map((b) => {
        const v = an[b][k];
        return el('td', { class: 'num', text: count(v) });
      }), el('td', { class: 'muted', text: unit })));
    }
    for (const b of bases) {
      if (an[b].errors) body.append(el('tr', {}, el('td', { colspan: bases.length + 2, class: 'error-text', text: b + ': ' + an[b].errors })));
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
      case 401: return auth.accounts ? 'The upload was refused: sign in again, then upload the file again.' : TOKEN_MSG;
      case 404: return 'The upload was refused: ' + (msg || 'no such patient') + ' (you can upload for your own patients only).';
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
    if (auth.csrf && !token) xhr.setRequestHeader('X-CSRF-Token', auth.csrf);
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
      if (status === 401) unauthorized(!!xhr.getResponseHeader(SIGN_IN_HEADER));
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
    $('#token-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      token = $('#token').value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
      await loadMe();
      route();
    });
    $('#login-form').addEventListener('submit', signIn);
    $('#login-token-form').addEventListener('submit', useToken);
    $('#sign-out').addEventListener('click', signOut);
    $('#audit-filters').addEventListener('submit', (e) => {
      e.preventDefault();
      const q = auditFilterQuery();
      if (q == null) return;
      go('#/audit' + (q ? '?' + q : ''));
    });
    $('#a-clear').addEventListener('click', () => {
      for (const id of ['#a-patient', '#a-user', '#a-from', '#a-to']) $(id).value = '';
      go('#/audit');
    });
    $('#audit-more').addEventListener('click', moreAudit);
    $('#filters').addEventListener('submit', (e) => {
      e.preventDefault();
      const p = $('#f-patient').value.trim().toUpperCase();
      if (p && !/^P\d+$/.test(p)) { notice('The patient code is P followed by digits, e.g. P001.'); $('#f-patient').focus(); return; }
      list.patient = p;
      list.status = $('#f-status').value;
      list.shown = 50;
      $('#f-patient').value = p;
      clearList();
      go(listHash());
    });
    $('#f-status').addEventListener('change', () => $('#filters').requestSubmit());
    $('#f-clear').addEventListener('click', () => {
      list.patient = ''; list.status = ''; list.shown = 50;
      $('#f-patient').value = '';
      $('#f-status').value = '';
      clearList();
      go(listHash());
    });
    $('#more').addEventListener('click', loadMore);
    $('#p-range').addEventListener('submit', (e) => {
      e.preventDefault();
      const from = $('#p-from').value, to = $('#p-to').value;
      if (from && to && from > to) { $('#p-range-error').textContent = 'The first date is after the last.'; $('#p-from').focus(); return; }
      go(patientHash(pat.code, from, to));
    });
    $('#p-all').addEventListener('click', () => go(patientHash(pat.code, '', '')));
    $('#p-4w').addEventListener('click', () => {
      // The four ISO weeks up to the latest session recorded (a review
      // of older data shows its last month, not an empty one).
      const last = day(pat.lastRecorded) || new Date().toISOString().slice(0, 10);
      const end = new Date(last + 'T00:00:00Z');
      const monday = new Date(end.getTime() - (((end.getUTCDay() + 6) % 7) + 21) * 86400000);
      const sunday = new Date(end.getTime() + (6 - ((end.getUTCDay() + 6) % 7)) * 86400000);
      go(patientHash(pat.code, monday.toISOString().slice(0, 10), sunday.toISOString().slice(0, 10)));
    });
    $('#settings-form').addEventListener('submit', saveSettings);
    $('#settings-form').addEventListener('input', () => { pat.dirty = true; });
    $('#set-reset').addEventListener('click', () => { pat.keepChannels = []; fillSettings(); $('#set-state').textContent = 'Changes undone.'; });
    $('#set-load-theirs').addEventListener('click', loadTheirs);
    $('#re-run').addEventListener('click', runReanalysis);
    $('#mvc-run').addEventListener('click', estimateMVC);
    $('#mvc-use').addEventListener('click', useMVC);
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
    // Who the page's credentials name first (a cookie session's CSRF
    // token with it), then the view of the address.
    loadMe().then(() => route());
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
