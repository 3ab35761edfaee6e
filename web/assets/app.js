// dfs web UI: plain JavaScript, no framework, no build step.
//
// Pages (hash routes, so a reload or a shared link opens the same place):
//   #/browse/<dir>     directory browser: sort, filter, mkdir, upload, download, rename,
//                      delete (to the trash); inside a trash: restore, empty the trash
//   #/trash            the signed-in user's trash (/user/<user>/.Trash), browsed as above
//   #/file/<path>      file details: size, SHA-256, blocks and their replicas
//   #/overview         cluster summary, block health, repair progress, balancer (auto-refresh)
//   #/datanodes        datanodes: rack, usage, disks (in service / failed),
//                      decommission / recommission, maintenance (auto-refresh)
//
// Everything comes from the namenode's JSON APIs on the same origin
// (/rpc/v1, /api/v1, /upload_file, /download_file). Uploads go through
// XMLHttpRequest + FormData: the browser streams the file from disk, it is
// never read into JavaScript memory. Errors are always shown (toast, banner
// or an in-page box) with the API's message.
'use strict';
(() => {
  const REFRESH_MS = 2500;
  const MAX_PARALLEL_UPLOADS = 3;

  // ---------------------------------------------------------------- helpers

  /** Builds an element. Text is always set as text, never parsed as HTML. */
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  const ICONS = {
    folder: '<path d="M3 7.5A1.5 1.5 0 0 1 4.5 6h4l2 2h9A1.5 1.5 0 0 1 21 9.5v8A1.5 1.5 0 0 1 19.5 19h-15A1.5 1.5 0 0 1 3 17.5z"/>',
    file: '<path d="M14 3H7a1.5 1.5 0 0 0-1.5 1.5v15A1.5 1.5 0 0 0 7 21h10a1.5 1.5 0 0 0 1.5-1.5V7.5z"/><path d="M14 3v4.5h4.5"/>',
    download: '<path d="M12 4v11"/><path d="m7 10 5 5 5-5"/><path d="M5 20h14"/>',
    upload: '<path d="M12 20V9"/><path d="m7 14 5-5 5 5"/><path d="M5 4h14"/>',
    rename: '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="m13.5 6.5 4 4"/>',
    trash: '<path d="M4 7h16"/><path d="M9 7V4.5h6V7"/><path d="M6.5 7l1 13h9l1-13"/>',
    newfolder: '<path d="M3 7.5A1.5 1.5 0 0 1 4.5 6h4l2 2h9A1.5 1.5 0 0 1 21 9.5v8A1.5 1.5 0 0 1 19.5 19h-15A1.5 1.5 0 0 1 3 17.5z"/><path d="M12 11v5M9.5 13.5h5"/>',
    refresh: '<path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/>',
    copy: '<rect x="8" y="8" width="12" height="12" rx="1.5"/><path d="M16 8V5.5A1.5 1.5 0 0 0 14.5 4h-9A1.5 1.5 0 0 0 4 5.5v9A1.5 1.5 0 0 0 5.5 16H8"/>',
    close: '<path d="M6 6l12 12M18 6 6 18"/>',
    layers: '<path d="m12 3 9 5-9 5-9-5z"/><path d="m3 13 9 5 9-5"/>',
    restore: '<path d="M4 12a8 8 0 1 0 2.3-5.7"/><path d="M4 4v7h7"/>',
  };
  function icon(name, cls) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    if (cls) svg.setAttribute('class', cls);
    svg.innerHTML = ICONS[name]; // static, trusted markup
    return svg;
  }
  /** A button; `label` is always its accessible name, shown unless iconOnly. */
  function button(label, opts = {}) {
    const b = h('button', {
      type: 'button',
      class: 'btn ' + (opts.class || ''),
      title: opts.title || (opts.iconOnly ? label : null),
      'aria-label': opts.iconOnly ? label : null,
      onclick: opts.onclick,
      dataset: opts.dataset,
    });
    if (opts.icon) b.append(icon(opts.icon));
    if (!opts.iconOnly) b.append(h('span', { class: 'lbl', text: label }));
    return b;
  }

  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  function fmtBytes(n) {
    if (n == null || !isFinite(n)) return '—';
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
    if (i === 0) return `${v} B`;
    let s = v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
    if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    return `${s} ${UNITS[i]}`;
  }
  const fmtRate = (bps) => `${fmtBytes(Math.round(bps))}/s`;
  const fmtInt = (n) => Number(n || 0).toLocaleString('en-US');
  function fmtDuration(secs) {
    secs = Math.max(0, Math.round(secs));
    if (secs < 60) return `${secs} s`;
    const m = Math.floor(secs / 60), s = secs % 60;
    if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
    const hr = Math.floor(m / 60), mm = m % 60;
    if (hr < 48) return mm ? `${hr} h ${mm} min` : `${hr} h`;
    const d = Math.floor(hr / 24), hh = hr % 24;
    return hh ? `${d} d ${hh} h` : `${d} d`;
  }
  function fmtAge(ms) {
    if (ms < 10000) return `${(ms / 1000).toFixed(1)} s ago`;
    return `${fmtDuration(ms / 1000)} ago`;
  }
  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const fullDateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
  const fmtTime = (ms) => (ms ? dateFmt.format(new Date(ms)) : '—');
  const fmtTimeFull = (ms) => (ms ? fullDateFmt.format(new Date(ms)) : '');
  const fmtPct = (p) => (p > 0 && p < 0.1 ? '<0.1%' : `${p.toFixed(p < 10 ? 1 : 0)}%`);
  const pct = (a, b) => (b > 0 ? Math.min(100, (100 * a) / b) : 0);
  const plural = (n, one, many) => `${fmtInt(n)} ${n === 1 ? one : many || one + 's'}`;
  const shortId = (id) => String(id || '').slice(0, 8);
  const shortHash = (hex) => (hex ? `${hex.slice(0, 12)}…${hex.slice(-6)}` : '—');
  // As `dfs stat` shows it: `-rw-r--r-- (644)`. The API gives octal digits.
  function fmtPerm(p, isDir) {
    if (p == null) return '—';
    const n = typeof p === 'string' ? parseInt(p, 8) : p;
    if (Number.isNaN(n)) return String(p);
    const bits = 'rwxrwxrwx';
    let s = isDir ? 'd' : '-';
    for (let i = 0; i < 9; i++) s += n & (1 << (8 - i)) ? bits[i] : '-';
    return `${s} (${n.toString(8).padStart(3, '0')})`;
  }

  // --------------------------------------------------------------- paths

  function components(path) { return String(path || '/').split('/').filter(Boolean); }
  function joinPath(dir, name) {
    const c = components(dir).concat(components(name));
    return '/' + c.join('/');
  }
  function parentOf(path) { const c = components(path); c.pop(); return '/' + c.join('/'); }
  function baseName(path) { const c = components(path); return c.length ? c[c.length - 1] : '/'; }
  function link(page, path) {
    return `#/${page}/` + components(path).map(encodeURIComponent).join('/');
  }
  /**
   * The trash `path` is in (`/user/<user>/.Trash`, HDFS's layout), and where
   * an entry of it was before it was deleted (`original`: `/a/b` for
   * `/user/u/.Trash/Current/a/b` or a checkpoint's `/user/u/.Trash/261205034037/a/b`);
   * null outside a trash.
   */
  function trashOf(path) {
    const c = components(path);
    if (c.length < 3 || c[0] !== 'user' || c[2] !== '.Trash') return null;
    return { root: '/' + c.slice(0, 3).join('/'), original: c.length > 4 ? '/' + c.slice(4).join('/') : null };
  }
  const downloadUrl = (path) => '/download_file?' + new URLSearchParams({ file_name: path });

  // ----------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, code, status) { super(message); this.code = code; this.status = status; }
  }
  /** Parses an error answer `{"error":{"code","message"}}` (or anything else). */
  function errorFrom(status, statusText, text) {
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
    const e = body && body.error;
    const msg = (e && e.message) || (text && text.length < 400 ? text.trim() : '') || statusText || `HTTP ${status}`;
    return new ApiError(msg, (e && e.code) || `http_${status}`, status);
  }
  async function api(path, opts = {}) {
    let url = path;
    if (opts.query) url += '?' + new URLSearchParams(opts.query);
    const init = { method: opts.method || (opts.body ? 'POST' : 'GET'), cache: 'no-store', headers: {} };
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let resp;
    try {
      resp = await fetch(url, init);
    } catch (e) {
      throw new ApiError(`Cannot reach the namenode (${e.message})`, 'network', 0);
    }
    const text = await resp.text();
    if (resp.status === 401) showLogin();
    if (!resp.ok) throw errorFrom(resp.status, resp.statusText, text);
    try { return text ? JSON.parse(text) : null; } catch (_) {
      throw new ApiError(`Unexpected answer from ${path}`, 'bad_response', resp.status);
    }
  }

  async function listAll(path) {
    const entries = [];
    let after = null;
    for (let page = 0; page < 1000; page++) {
      const q = { path };
      if (after != null) q.start_after = after;
      const r = await api('/rpc/v1/list', { query: q });
      entries.push(...r.entries);
      if (!r.has_more || r.entries.length === 0) break;
      after = r.entries[r.entries.length - 1].name;
    }
    return entries;
  }

  // ------------------------------------------------------ toasts & banner

  const toasts = document.getElementById('toasts');
  function toast(message, opts = {}) {
    const t = h('div', { class: 'toast' + (opts.error ? ' error' : ''), role: opts.error ? 'alert' : 'status' },
      h('div', { class: 'msg' },
        opts.title ? h('strong', { text: opts.title }) : null,
        h('span', { text: message }),
        opts.code ? h('div', { class: 'code', text: opts.code }) : null),
      button('Dismiss', { class: 'ghost small', icon: 'close', iconOnly: true, onclick: () => t.remove() }));
    toasts.append(t);
    while (toasts.children.length > 5) toasts.firstChild.remove();
    setTimeout(() => t.remove(), opts.error ? 12000 : 4000);
    return t;
  }
  function showError(e, what) {
    console.error(what || 'error', e);
    const msg = e instanceof Error ? e.message : String(e);
    toast(msg, { error: true, title: what || 'Something went wrong', code: e && e.code && e.status ? `${e.code} · HTTP ${e.status}` : e && e.code });
  }

  const banner = document.getElementById('banner');
  let bannerState = { conn: null, safe: null };
  function updateBanner() {
    const text = bannerState.conn || bannerState.safe;
    banner.hidden = !text;
    banner.className = 'banner' + (bannerState.conn ? '' : ' warn');
    banner.textContent = text || '';
  }

  // -------------------------------------------------------------- dialogs

  const dialog = document.getElementById('dialog');
  const dialogForm = document.getElementById('dialog-form');
  let dialogDone = null;
  /**
   * A modal (native <dialog>: Escape cancels, Enter submits, focus stays
   * inside). Resolves to the input's value (prompt), true (confirm), or null.
   */
  function modal({ title, body = [], ok = 'OK', danger = false, input = null, validate = null }) {
    if (dialog.open) dialog.close('cancel');
    document.getElementById('dialog-title').textContent = title;
    const bodyEl = document.getElementById('dialog-body');
    bodyEl.replaceChildren(...[].concat(body).map((b) => (typeof b === 'string' ? h('p', { text: b }) : b)));
    const okBtn = document.getElementById('dialog-ok');
    okBtn.textContent = ok;
    okBtn.className = 'btn ' + (danger ? 'danger' : 'primary');
    let field = null;
    const problem = h('p', { class: 'muted', role: 'alert' });
    if (input) {
      const id = 'dialog-input';
      field = h('input', { id, type: input.type || 'text', value: input.value || '', autocomplete: 'off', spellcheck: 'false', min: input.min, max: input.max });
      bodyEl.append(h('label', { for: id, text: input.label }), field, problem);
    }
    okBtn.toggleAttribute('autofocus', !field);
    if (field) field.setAttribute('autofocus', '');
    return new Promise((resolve) => {
      dialogDone = (v) => { dialogDone = null; resolve(v); };
      dialog.returnValue = '';
      dialog.showModal();
      if (field) {
        field.focus();
        if (input.select) field.setSelectionRange(input.select[0], input.select[1]);
        else field.select();
      } else okBtn.focus();
      dialog._validate = () => {
        if (!field) return true;
        const msg = validate ? validate(field.value) : null;
        problem.textContent = msg || '';
        problem.style.color = msg ? 'var(--bad)' : '';
        return !msg;
      };
      dialog._value = () => (field ? field.value : true);
    });
  }
  dialogForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!dialog._validate || dialog._validate()) {
      const v = dialog._value ? dialog._value() : true;
      dialog.close('ok');
      if (dialogDone) dialogDone(v);
    }
  });
  document.getElementById('dialog-cancel').addEventListener('click', () => dialog.close('cancel'));
  dialog.addEventListener('close', () => { if (dialogDone) dialogDone(null); });

  // ------------------------------------------------------ summary polling

  /** The latest /api/v1/summary, polled for the header on every page. */
  let summary = null;
  let summaryAt = 0;
  const summaryListeners = new Set();
  async function pollSummary() {
    try {
      summary = await api('/api/v1/summary');
      summaryAt = Date.now();
      bannerState.conn = null;
    } catch (e) {
      if (e.status === 401) { // the sign-in form is up; not a cluster problem
        bannerState.conn = null;
        updateBanner();
        setHealth('warn', 'signed out');
        return;
      }
      bannerState.conn = e.status
        ? `The namenode answered with an error: ${e.message}`
        : `Lost contact with the namenode (${e.message}). Retrying…`;
      setHealth('bad', 'unreachable');
      updateBanner();
      for (const fn of summaryListeners) fn(null, e);
      return;
    }
    const s = summary;
    bannerState.safe = s.safe_mode
      ? `Safe mode: ${s.safe_mode_reason || 'on'}. Reads work; writes are refused until it ends.`
      : null;
    updateBanner();
    if (s.missing_blocks > 0 || s.corrupt_blocks > 0) {
      setHealth('bad', `${plural(s.missing_blocks + s.corrupt_blocks, 'block')} missing or corrupt`);
    } else if (s.safe_mode) {
      setHealth('warn', 'safe mode');
    } else if (s.under_replicated_blocks > 0) {
      setHealth('warn', `${plural(s.under_replicated_blocks, 'block')} under-replicated`);
    } else if (s.dead_datanodes > 0) {
      setHealth('warn', `${s.live_datanodes} live · ${s.dead_datanodes} dead`);
    } else if (s.live_datanodes === 0) {
      setHealth('bad', 'no datanodes');
    } else {
      setHealth('ok', `healthy · ${plural(s.live_datanodes, 'node')}`);
    }
    for (const fn of summaryListeners) fn(s, null);
  }
  function setHealth(cls, label) {
    const el = document.getElementById('health');
    el.className = 'health ' + cls;
    el.querySelector('.label').textContent = label;
    el.title = `Cluster: ${label}`;
  }

  // --------------------------------------------------------------- router

  const main = document.getElementById('main');
  let page = null; // { destroy() }

  function route() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [name, ...rest] = raw.split('/');
    let path;
    try {
      path = '/' + rest.filter(Boolean).map(decodeURIComponent).join('/');
    } catch (_) {
      path = '/';
    }
    return { name: name || 'browse', path };
  }

  // ---------------------------------------------------------------- login

  // With access control on, every API answers 401 without a credential.
  // The page then asks for a token; POST /auth/login turns it into an
  // HttpOnly, SameSite=Strict session cookie (the token itself is never
  // stored by this script), and the page renders again.
  let loginShown = false;
  function showLogin() {
    if (loginShown) return;
    loginShown = true;
    if (page && page.destroy) page.destroy();
    page = null;
    const input = h('input', { type: 'password', id: 'login-token', name: 'token', autocomplete: 'current-password', required: true });
    const err = h('p', { class: 'login-error', role: 'alert', hidden: true });
    const form = h('form', { class: 'panel login', id: 'login-form' },
      h('h1', { text: 'Sign in' }),
      h('p', { class: 'muted', text: 'This cluster has access control on. Enter your access token.' }),
      h('label', { for: 'login-token', text: 'Token' }),
      input, err,
      h('button', { type: 'submit', class: 'btn primary', text: 'Sign in' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      try {
        const me = await api('/auth/login', { body: { token: input.value } });
        loginShown = false;
        showUser(me);
        render();
        pollSummary();
      } catch (e) {
        loginShown = true;
        err.textContent = e.status === 401 ? 'That token is not valid.' : e.message;
        err.hidden = false;
        input.select();
      }
    });
    main.replaceChildren(form);
    input.focus();
  }
  /** Shows who is signed in, with a sign-out button (access control on). */
  function showUser(me) {
    const bar = document.querySelector('.topbar');
    const old = document.getElementById('whoami');
    if (old) old.remove();
    if (!me || !me.auth || !me.user) return;
    const out = button('Sign out', {
      class: 'ghost small',
      onclick: async () => {
        try { await api('/auth/logout', { method: 'POST' }); } catch (_) { /* the cookie is gone anyway */ }
        showUser(null);
        showLogin();
      },
    });
    bar.append(h('span', { id: 'whoami', class: 'whoami' }, h('span', { class: 'muted', text: me.user }), out));
  }

  function render() {
    if (loginShown) return;
    if (page && page.destroy) page.destroy();
    page = null;
    const r = route();
    const pages = { browse: BrowsePage, file: FilePage, overview: OverviewPage, datanodes: DatanodesPage, trash: TrashPage };
    const Page = pages[r.name];
    if (!Page) { location.replace('#/browse/'); return; }
    const nav = r.name === 'file' ? 'browse' : r.name === 'browse' && trashOf(r.path) ? 'trash' : r.name;
    document.querySelectorAll('[data-nav]').forEach((a) => {
      const current = a.dataset.nav === nav;
      if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    main.replaceChildren();
    page = Page(r.path);
  }

  /** Runs `fn` now and every REFRESH_MS while the page lives and is visible. */
  function every(fn) {
    let stopped = false;
    let timer = null;
    const tick = async () => {
      if (stopped) return;
      if (!document.hidden) await fn();
      if (!stopped) timer = setTimeout(tick, REFRESH_MS);
    };
    tick();
    return () => { stopped = true; clearTimeout(timer); };
  }

  /** Re-renders a region, keeping keyboard focus on the same logical control. */
  function replaceKeepingFocus(container, ...nodes) {
    const key = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.focusKey;
    container.replaceChildren(...nodes);
    if (key) {
      const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

  function errorBox(title, e, extra) {
    return h('div', { class: 'error-box', role: 'alert' },
      h('strong', { text: title }),
      h('p', { text: e.message + (e.code && e.code !== 'network' ? ` (${e.code})` : '') }),
      extra || null);
  }

  // =============================================================== BROWSE

  const uploads = []; // every upload of this session, newest last
  const uploadQueue = [];
  let uploadsActive = 0;
  let uploadsPanel = null; // lives across pages; re-attached on browse
  const sortPref = JSON.parse(localStorage.getItem('dfs.sort') || 'null') || { key: 'name', dir: 1 };

  /** #/trash: finds the signed-in user's trash, then browses it. */
  function TrashPage() {
    let gone = false;
    api('/webhdfs/v1/', { query: { op: 'GETTRASHROOT' } })
      .then((r) => { if (!gone) location.replace(link('browse', r.Path)); })
      .catch((e) => { if (!gone) main.replaceChildren(errorBox('Cannot find your trash', e)); });
    return { destroy() { gone = true; } };
  }

  function BrowsePage(path) {
    // `tree`: the content summary of the path (everything under it, as `du -s`).
    // Inside DIR/.snapshot: read-only (nothing there can change).
    const snap = components(path).includes('.snapshot');
    const st = { path, entries: null, tree: null, filter: '', loading: true, trash: trashOf(path), snap };
    const fileInput = h('input', { type: 'file', multiple: true, hidden: true, id: 'upload-input', 'aria-label': 'Files to upload' });
    fileInput.addEventListener('change', () => {
      const files = Array.from(fileInput.files || []);
      fileInput.value = '';
      if (files.length) queueUploads(files, st.path, st.entries);
    });
    const filter = h('input', { type: 'search', class: 'filter', placeholder: 'Filter by name  ( / )', 'aria-label': 'Filter entries by name' });
    filter.addEventListener('input', () => { st.filter = filter.value; drawRows(); });
    const count = h('span', { class: 'count muted' });
    const quota = h('span', { class: 'quota', dataset: { quota: '' }, hidden: true });
    const tableHost = h('div', { class: 'table-wrap' });
    const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Path' });
    crumbs.append(h('a', { href: link('browse', '/'), text: '/ root', 'aria-current': path === '/' ? 'location' : null }));
    const comps = components(path);
    comps.forEach((c, i) => {
      const p = '/' + comps.slice(0, i + 1).join('/');
      crumbs.append(h('span', { class: 'sep', 'aria-hidden': 'true', text: '/' }));
      crumbs.append(i === comps.length - 1
        ? h('span', { 'aria-current': 'location', text: c })
        : h('a', { href: link('browse', p), text: c }));
    });
    const dropzone = h('section', { class: 'panel dropzone', 'aria-label': 'Directory contents' },
      h('div', { class: 'toolbar' },
        snap ? h('span', { class: 'muted', dataset: { readOnly: '' }, text: 'A snapshot: read-only' }) : null,
        snap ? null : button('New folder', { icon: 'newfolder', onclick: () => makeDirectory(st) }),
        snap ? null : button('Upload files', { icon: 'upload', class: 'primary', onclick: () => fileInput.click() }),
        fileInput,
        filter,
        button('Refresh', { icon: 'refresh', iconOnly: true, class: 'ghost', onclick: () => load() }),
        quota,
        count),
      tableHost);
    main.append(...[
      h('div', { class: 'page-head' }, crumbs),
      st.trash ? trashNote(st) : null,
      uploadsHost(),
      dropzone].filter(Boolean));
    document.title = `${path} · dfs`;

    // Drag and drop anywhere on the listing.
    let depth = 0;
    const isFiles = (ev) => ev.dataTransfer && Array.from(ev.dataTransfer.types || []).includes('Files');
    dropzone.addEventListener('dragenter', (ev) => { if (!isFiles(ev)) return; ev.preventDefault(); depth++; dropzone.classList.add('dragging'); });
    dropzone.addEventListener('dragover', (ev) => { if (!isFiles(ev)) return; ev.preventDefault(); ev.dataTransfer.dropEffect = 'copy'; });
    dropzone.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) dropzone.classList.remove('dragging'); });
    dropzone.addEventListener('drop', (ev) => {
      if (!isFiles(ev)) return;
      ev.preventDefault();
      depth = 0;
      dropzone.classList.remove('dragging');
      const items = Array.from(ev.dataTransfer.items || []);
      const files = [];
      let folders = 0;
      if (items.length) {
        for (const it of items) {
          if (it.kind !== 'file') continue;
          const entry = it.webkitGetAsEntry && it.webkitGetAsEntry();
          if (entry && entry.isDirectory) { folders++; continue; }
          const f = it.getAsFile();
          if (f) files.push(f);
        }
      } else files.push(...Array.from(ev.dataTransfer.files || []));
      if (folders) toast(`${plural(folders, 'folder')} skipped: drop files, or use \`dfs put -r\` for whole folders.`, { error: true, title: 'Folders are not uploaded' });
      if (files.length) queueUploads(files, st.path, st.entries);
    });

    const onKey = (ev) => {
      if (ev.key === '/' && !ev.ctrlKey && !ev.metaKey && !/^(INPUT|TEXTAREA)$/.test(document.activeElement.tagName) && !dialog.open) {
        ev.preventDefault();
        filter.focus();
      }
    };
    document.addEventListener('keydown', onKey);

    async function load() {
      try {
        // The total under the folder comes from the content summary (what
        // `dfs du -s` shows); without it, the count says it covers only the
        // files listed here.
        const [entries, tree] = await Promise.all([
          listAll(st.path).catch((e) => {
            // A trash that was never used (or was emptied) is not there.
            if (e.status === 404 && st.trash && st.trash.root === st.path) return [];
            throw e;
          }),
          api('/rpc/v1/content_summary', { query: { path: st.path } }).catch(() => null),
        ]);
        if (entries.length === 1 && entries[0].path === st.path && entries[0].type === 'file') {
          location.replace(link('file', st.path)); // a file: show its details
          return;
        }
        st.entries = entries;
        st.tree = tree;
        drawRows();
      } catch (e) {
        st.entries = null;
        count.textContent = '';
        tableHost.replaceChildren(errorBox(`Cannot list ${st.path}`, e,
          h('p', {}, h('a', { href: link('browse', parentOf(st.path)), text: '← Go up' }))));
      }
    }
    st.reload = load;

    const columns = [
      { key: 'name', label: 'Name' },
      { key: 'type', label: 'Type', cls: 'hide-narrow' },
      { key: 'size', label: 'Size', cls: 'num' },
      { key: 'replication', label: 'Replication', cls: 'num hide-narrow' },
      { key: 'modified', label: 'Modified', cls: 'hide-narrow' },
    ];
    const sortValue = {
      name: (e) => e.name.toLowerCase(),
      type: (e) => e.type,
      size: (e) => (e.type === 'directory' ? -1 : e.length),
      replication: (e) => e.replication,
      modified: (e) => e.modification_time,
    };

    function drawRows() {
      if (!st.entries) return;
      const f = st.filter.trim().toLowerCase();
      const shown = st.entries.filter((e) => !f || e.name.toLowerCase().includes(f));
      const val = sortValue[sortPref.key] || sortValue.name;
      shown.sort((a, b) => {
        if (a.type !== b.type) return a.type === 'directory' ? -1 : 1; // folders first
        const x = val(a), y = val(b);
        const c = x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name);
        return c * sortPref.dir;
      });
      const files = st.entries.filter((e) => e.type === 'file');
      const here = files.reduce((s, e) => s + e.length, 0);
      const t = st.tree;
      count.textContent = (f ? `${shown.length} of ` : '') + `${plural(st.entries.length, 'item')} · ` +
        (t ? `${fmtBytes(t.length)} in all` : `${fmtBytes(here)} in the files here`);
      count.title = t
        ? `${fmtInt(t.length)} bytes in ${plural(t.file_count, 'file')} under ${st.path}, sub-folders included ` +
          `(${fmtBytes(t.space_consumed)} with replicas); ${fmtBytes(here)} in the files directly here`
        : `${fmtInt(here)} bytes in the files directly in ${st.path} (sub-folders not counted)`;
      count.dataset.totalBytes = t ? String(t.length) : '';
      // A quota on this folder (`dfs quota`): what is used of it.
      const hasQuota = t && (t.files_quota != null || t.bytes_quota != null);
      quota.hidden = !hasQuota;
      if (hasQuota) {
        const parts = [];
        if (t.files_quota != null) parts.push(`${fmtInt(t.file_count + t.directory_count)} of ${fmtInt(t.files_quota)} names`);
        if (t.bytes_quota != null) parts.push(`${fmtBytes(t.space_consumed)} of ${fmtBytes(t.bytes_quota)} with replicas`);
        quota.textContent = `Quota: ${parts.join(' · ')}`;
        quota.title = 'Names count files and folders, this one included; space counts every replica (dfs count -q shows the same).';
        const full = (t.files_quota != null && t.file_count + t.directory_count >= t.files_quota) ||
          (t.bytes_quota != null && t.space_consumed >= t.bytes_quota);
        quota.classList.toggle('full', full);
      }

      const head = h('tr', {}, columns.map((c) => {
        const sorted = sortPref.key === c.key;
        return h('th', { class: c.cls || null, scope: 'col', 'aria-sort': sorted ? (sortPref.dir > 0 ? 'ascending' : 'descending') : null },
          h('button', {
            class: 'sort', type: 'button', text: c.label, dataset: { focusKey: 'sort-' + c.key },
            onclick: () => {
              if (sortPref.key === c.key) sortPref.dir = -sortPref.dir; else { sortPref.key = c.key; sortPref.dir = 1; }
              localStorage.setItem('dfs.sort', JSON.stringify(sortPref));
              drawRows();
            },
          }));
      }), h('th', { scope: 'col', class: 'num' }, h('span', { class: 'hide-narrow', text: 'Actions' })));

      const rows = shown.map((e) => {
        const isDir = e.type === 'directory';
        const href = link(isDir ? 'browse' : 'file', e.path);
        return h('tr', { dataset: { name: e.name, type: e.type } },
          h('td', {}, h('div', { class: 'name-cell' },
            icon(isDir ? 'folder' : 'file', 'icon ' + (isDir ? 'dir' : 'file')),
            h('a', { href, text: e.name, dataset: { focusKey: 'open-' + e.name } }))),
          h('td', { class: 'hide-narrow muted', text: isDir ? 'Directory' : 'File' }),
          isDir
            ? h('td', { class: 'num muted', dataset: { bytes: '' }, text: plural(e.children, 'item') })
            : h('td', { class: 'num nowrap', dataset: { bytes: String(e.length) }, title: `${fmtInt(e.length)} bytes`, text: fmtBytes(e.length) }),
          h('td', { class: 'num hide-narrow', text: isDir ? '—' : String(e.replication) }),
          h('td', { class: 'hide-narrow nowrap', title: fmtTimeFull(e.modification_time), text: fmtTime(e.modification_time) }),
          h('td', {}, h('div', { class: 'row-actions' },
            isDir ? null : h('a', {
              class: 'btn ghost', href: downloadUrl(e.path), download: e.name,
              title: `Download ${e.name}`, 'aria-label': `Download ${e.name}`, dataset: { action: 'download' },
            }, icon('download')),
            st.trash && trashOf(e.path).original
              ? button(`Restore ${e.name} to ${trashOf(e.path).original}`, { icon: 'restore', iconOnly: true, class: 'ghost', dataset: { action: 'restore', focusKey: 'restore-' + e.name }, onclick: () => restoreEntry(e, st) })
              : null,
            st.snap ? null : button(`Rename or move ${e.name}`, { icon: 'rename', iconOnly: true, class: 'ghost', dataset: { action: 'rename', focusKey: 'rename-' + e.name }, onclick: () => renameEntry(e, st) }),
            st.snap ? null : button(`Delete ${e.name}`, { icon: 'trash', iconOnly: true, class: 'ghost', dataset: { action: 'delete', focusKey: 'delete-' + e.name }, onclick: () => deleteEntry(e, st) }))));
      });

      const body = rows.length
        ? h('table', { id: 'listing' }, h('thead', {}, head), h('tbody', {}, rows))
        : h('div', { class: 'empty' }, st.entries.length
          ? `Nothing here matches “${st.filter}”.`
          : st.trash
            ? h('div', {}, h('p', { text: 'The trash is empty.' }))
            : h('div', {}, h('p', { text: 'This directory is empty.' }), h('p', { class: 'muted', text: 'Drop files here, or use Upload files.' })));
      replaceKeepingFocus(tableHost, body);
    }

    const onUploaded = (dir) => { if (dir === st.path) load(); };
    uploadListeners.add(onUploaded);
    load();
    main.focus({ preventScroll: true });
    return {
      destroy() {
        document.removeEventListener('keydown', onKey);
        uploadListeners.delete(onUploaded);
      },
    };
  }

  async function makeDirectory(st) {
    const name = await modal({
      title: 'New folder',
      body: [h('p', { class: 'muted', text: `Inside ${st.path}. Use a/b/c to make nested folders.` })],
      ok: 'Create',
      input: { label: 'Folder name', value: '' },
      validate: (v) => {
        const c = v.split('/').filter(Boolean);
        if (!c.length) return 'Enter a name.';
        if (c.some((x) => x === '.' || x === '..')) return '“.” and “..” are not allowed.';
        return null;
      },
    });
    if (name == null) return;
    const path = joinPath(st.path, name);
    try {
      await api('/rpc/v1/mkdirs', { body: { path, parents: true } });
      toast(`Created ${path}`);
      st.reload();
    } catch (e) { showError(e, `Cannot create ${path}`); }
  }

  async function renameEntry(e, st) {
    const start = e.path.length - e.name.length;
    const dst = await modal({
      title: `Rename or move ${e.type === 'directory' ? 'folder' : 'file'}`,
      body: [h('p', { class: 'muted', text: 'Give a new name or a full path. Moving onto an existing folder puts it inside.' })],
      ok: 'Rename',
      input: { label: 'New path', value: e.path, select: [start, e.path.length] },
      validate: (v) => (v.trim() && v.trim() !== e.path ? null : 'Enter a different name or path.'),
    });
    if (dst == null) return false;
    const target = dst.trim().startsWith('/') ? joinPath('/', dst.trim()) : joinPath(parentOf(e.path), dst.trim());
    try {
      const moved = await api('/rpc/v1/rename', { body: { src: e.path, dst: target } });
      toast(`Moved ${e.name} to ${moved.path}`);
      if (st) st.reload();
      return moved;
    } catch (err) { showError(err, `Cannot move ${e.path}`); return false; }
  }

  /** What a trash is, above its listing: how long things stay, and a way to empty it. */
  function trashNote(st) {
    const keep = summary && summary.trash_interval_secs
      ? `for ${fmtDuration(summary.trash_interval_secs)} to ${fmtDuration(2 * summary.trash_interval_secs)}`
      : 'until the namenode empties it';
    return h('section', { class: 'panel trash-note', 'aria-label': 'About the trash' },
      h('p', {}, `What you delete stays here ${keep}, still taking its space, then the namenode deletes it for good. `,
        'Restore puts an item back where it was; deleting it here deletes it at once.'),
      button('Empty trash', { icon: 'trash', class: 'danger', dataset: { action: 'expunge' }, onclick: () => emptyTrash(st) }));
  }

  async function emptyTrash(st) {
    const ok = await modal({
      title: 'Empty trash',
      body: [h('p', {}, 'Delete everything in ', h('strong', { text: st.trash.root }), ' for good?'), h('p', { class: 'muted', text: 'This cannot be undone.' })],
      ok: 'Empty trash',
      danger: true,
    });
    if (!ok) return;
    try {
      const r = await api('/rpc/v1/expunge', { body: {} });
      toast(`Emptied the trash: ${plural(r.deleted.files_deleted, 'file')} (${fmtBytes(r.deleted.bytes_deleted)})`);
      if (st.path === st.trash.root) st.reload(); else location.hash = link('browse', st.trash.root);
    } catch (err) { showError(err, 'Cannot empty the trash'); }
  }

  /** Moves a trashed entry back to where it was (its folders made again if need be). */
  async function restoreEntry(e, st) {
    const dst = trashOf(e.path).original;
    try {
      const taken = await api('/rpc/v1/status', { query: { path: dst } }).then(() => true, (err) => {
        if (err.status === 404) return false;
        throw err;
      });
      if (taken) {
        toast(`${dst} exists again: rename it or move this one elsewhere.`, { error: true, title: `Cannot restore ${e.name}` });
        return false;
      }
      const parent = parentOf(dst);
      if (parent !== '/') await api('/rpc/v1/mkdirs', { body: { path: parent, parents: true } });
      const moved = await api('/rpc/v1/rename', { body: { src: e.path, dst } });
      toast(`Restored ${moved.path}`);
      if (st) st.reload();
      return true;
    } catch (err) { showError(err, `Cannot restore ${e.path}`); return false; }
  }

  async function deleteEntry(e, st) {
    let cs;
    try {
      cs = await api('/rpc/v1/content_summary', { query: { path: e.path } });
    } catch (err) { showError(err, `Cannot inspect ${e.path}`); return false; }
    if (!summary) await pollSummary();
    // Outside a trash, and with the namenode keeping one, a delete moves to it.
    const toTrash = !trashOf(e.path) && !!(summary && summary.trash_interval_secs);
    const isDir = e.type === 'directory';
    const what = isDir
      ? `${plural(cs.file_count, 'file')} and ${plural(cs.directory_count, 'folder')} (this one included)`
      : plural(cs.file_count, 'file');
    const after = toTrash
      ? h('p', { class: 'muted', dataset: { deleteAfter: 'trash' }, text: `It moves to your trash, where it can be restored for ${fmtDuration(summary.trash_interval_secs)} or more.` })
      : h('p', { class: 'muted', dataset: { deleteAfter: 'gone' }, text: 'This cannot be undone.' });
    const body = [
      isDir
        ? h('p', {}, 'Delete the folder ', h('strong', { text: e.path }), ' and everything in it?')
        : h('p', {}, 'Delete ', h('strong', { text: e.path }), '?'),
      h('p', { dataset: { deleteSummary: '' }, text: `This removes ${what}: ${fmtBytes(cs.length)} of data, ${fmtBytes(cs.space_consumed)} with replicas.` }),
      after,
    ];
    const title = (toTrash ? 'Move to trash: ' : 'Delete ') + (isDir ? 'folder' : 'file');
    const ok = await modal({ title, body, ok: toTrash ? 'Move to trash' : 'Delete', danger: true });
    if (!ok) return false;
    try {
      const r = await api('/rpc/v1/trash', { body: { path: e.path, recursive: isDir } });
      if (r.moved_to) {
        toast(`Moved ${e.path} to the trash`);
      } else {
        const d = r.deleted;
        const parts = [];
        if (d.files_deleted) parts.push(plural(d.files_deleted, 'file'));
        if (d.directories_deleted) parts.push(plural(d.directories_deleted, 'folder'));
        toast(`Deleted ${parts.join(' and ') || e.path} (${fmtBytes(d.bytes_deleted)})`);
      }
      if (st) st.reload();
      return true;
    } catch (err) { showError(err, `Cannot delete ${e.path}`); return false; }
  }

  // -------------------------------------------------------------- uploads

  const uploadListeners = new Set();

  function uploadsHost() {
    if (!uploadsPanel) {
      uploadsPanel = h('section', { class: 'panel uploads', 'aria-label': 'Uploads', hidden: true },
        h('div', { class: 'panel-body' },
          h('div', { class: 'uploads-head' },
            h('h2', { text: 'Uploads' }),
            button('Clear finished', {
              class: 'small ghost',
              onclick: () => {
                for (let i = uploads.length - 1; i >= 0; i--) {
                  if (['done', 'failed', 'cancelled'].includes(uploads[i].state)) { uploads[i].el.remove(); uploads.splice(i, 1); }
                }
                uploadsPanel.hidden = uploads.length === 0;
              },
            })),
          h('div', { class: 'upload-list', style: 'display:grid;gap:.75rem' })));
    }
    uploadsPanel.hidden = uploads.length === 0;
    return uploadsPanel;
  }

  async function queueUploads(files, dir, entries) {
    const existing = new Map((entries || []).map((e) => [e.name, e]));
    const clash = files.filter((f) => existing.has(f.name));
    const dirClash = clash.filter((f) => existing.get(f.name).type === 'directory');
    if (dirClash.length) {
      toast(`${dirClash.map((f) => f.name).join(', ')}: a folder with that name exists here.`, { error: true, title: 'Not uploaded' });
      files = files.filter((f) => !dirClash.includes(f));
    }
    const fileClash = clash.filter((f) => existing.get(f.name).type === 'file');
    let overwrite = false;
    if (fileClash.length) {
      const names = fileClash.map((f) => f.name);
      const ok = await modal({
        title: fileClash.length === 1 ? 'Replace file?' : `Replace ${fileClash.length} files?`,
        body: [`${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''} already ${names.length === 1 ? 'exists' : 'exist'} in ${dir}.`,
          h('p', { class: 'muted', text: 'Replacing keeps the old file readable until the new one is complete.' })],
        ok: 'Replace',
      });
      if (!ok) files = files.filter((f) => !fileClash.includes(f));
      else overwrite = true;
    }
    const host = uploadsHost();
    const list = host.querySelector('.upload-list');
    for (const file of files) {
      const u = { file, dir, path: joinPath(dir, file.name), overwrite, state: 'queued', loaded: 0, total: file.size, samples: [], started: 0 };
      u.bar = h('span', { style: 'width:0%' });
      u.meta = h('span', { class: 'u-meta', text: `${fmtBytes(file.size)} · waiting` });
      u.cancel = button(`Cancel upload of ${file.name}`, { icon: 'close', iconOnly: true, class: 'ghost small', onclick: () => cancelUpload(u) });
      u.el = h('div', { class: 'upload', dataset: { upload: file.name, state: 'queued' } },
        h('div', { class: 'u-name', title: u.path }, file.name, h('span', { class: 'muted', text: `  → ${dir}` })),
        h('div', { style: 'display:flex;align-items:center;gap:.4rem' }, u.meta, u.cancel),
        h('div', { class: 'bar', role: 'progressbar', 'aria-label': `Upload of ${file.name}`, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0' }, u.bar));
      list.append(u.el);
      uploads.push(u);
      uploadQueue.push(u);
    }
    host.hidden = uploads.length === 0;
    pumpUploads();
  }

  function pumpUploads() {
    while (uploadsActive < MAX_PARALLEL_UPLOADS && uploadQueue.length) {
      const u = uploadQueue.shift();
      if (u.state !== 'queued') continue;
      uploadsActive++;
      sendUpload(u);
    }
  }

  function setUploadState(u, state, text) {
    u.state = state;
    u.el.dataset.state = state;
    u.el.classList.toggle('done', state === 'done');
    u.el.classList.toggle('failed', state === 'failed' || state === 'cancelled');
    if (text != null) u.meta.textContent = text;
    if (['done', 'failed', 'cancelled'].includes(state)) u.cancel.remove();
  }

  function setUploadProgress(u, fraction) {
    const p = Math.max(0, Math.min(100, fraction * 100));
    u.bar.style.width = p.toFixed(1) + '%';
    u.bar.parentElement.setAttribute('aria-valuenow', p.toFixed(0));
  }

  function sendUpload(u) {
    const xhr = new XMLHttpRequest();
    u.xhr = xhr;
    u.started = performance.now();
    const form = new FormData();
    // Options first: the server reads them before it streams the file part.
    form.append('directory', u.dir);
    if (u.overwrite) form.append('overwrite', 'true');
    form.append('file', u.file, u.file.name); // a Blob: streamed from disk by the browser
    setUploadState(u, 'uploading', `0 B of ${fmtBytes(u.total)}`);
    xhr.upload.addEventListener('progress', (ev) => {
      const total = ev.lengthComputable ? ev.total : u.total;
      const now = performance.now();
      // The multipart overhead is tiny; scale to the file's own size.
      u.loaded = Math.min(u.total, Math.round((ev.loaded / Math.max(total, 1)) * u.total));
      u.samples.push([now, u.loaded]);
      while (u.samples.length > 2 && now - u.samples[0][0] > 3000) u.samples.shift();
      const [t0, b0] = u.samples[0];
      const rate = now > t0 ? ((u.loaded - b0) * 1000) / (now - t0) : 0;
      setUploadProgress(u, u.total ? u.loaded / u.total : 1);
      let text = `${fmtBytes(u.loaded)} of ${fmtBytes(u.total)}`;
      if (rate > 0) {
        text += ` · ${fmtRate(rate)}`;
        if (u.loaded < u.total) text += ` · ${fmtDuration(Math.max(1, (u.total - u.loaded) / rate))} left`;
      }
      u.meta.textContent = text;
    });
    xhr.upload.addEventListener('load', () => {
      if (u.state === 'uploading') setUploadState(u, 'finishing', `${fmtBytes(u.total)} sent · finishing…`);
      setUploadProgress(u, 1);
    });
    const finish = () => { uploadsActive--; pumpUploads(); };
    xhr.addEventListener('load', () => {
      const secs = (performance.now() - u.started) / 1000;
      if (xhr.status >= 200 && xhr.status < 300) {
        setUploadProgress(u, 1);
        setUploadState(u, 'done', `${fmtBytes(u.total)} · done in ${fmtDuration(secs) === '0 s' ? secs.toFixed(1) + ' s' : fmtDuration(secs)}` +
          (secs > 0 ? ` · ${fmtRate(u.total / secs)}` : ''));
        for (const fn of uploadListeners) fn(u.dir);
      } else {
        const e = errorFrom(xhr.status, xhr.statusText, xhr.responseText);
        if (xhr.status === 401) showLogin();
        setUploadState(u, 'failed', `Failed: ${e.message}`);
        showError(e, `Upload of ${u.file.name} failed`);
      }
      finish();
    });
    xhr.addEventListener('error', () => {
      setUploadState(u, 'failed', 'Failed: the connection to the namenode broke off');
      showError(new ApiError('The connection to the namenode broke off during the upload.', 'network', 0), `Upload of ${u.file.name} failed`);
      finish();
    });
    xhr.addEventListener('abort', () => { setUploadState(u, 'cancelled', 'Cancelled'); finish(); });
    xhr.open('POST', '/upload_file');
    xhr.send(form);
  }

  function cancelUpload(u) {
    if (u.state === 'queued') setUploadState(u, 'cancelled', 'Cancelled');
    else if (u.xhr) u.xhr.abort();
  }

  window.addEventListener('beforeunload', (ev) => {
    if (uploads.some((u) => u.state === 'uploading' || u.state === 'finishing' || u.state === 'queued')) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  });

  // ========================================================= FILE DETAILS

  function FilePage(path) {
    document.title = `${baseName(path)} · dfs`;
    const comps = components(path);
    const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Path' },
      h('a', { href: link('browse', '/'), text: '/ root' }),
      comps.map((c, i) => [
        h('span', { class: 'sep', 'aria-hidden': 'true', text: '/' }),
        i === comps.length - 1
          ? h('span', { 'aria-current': 'page', text: c })
          : h('a', { href: link('browse', '/' + comps.slice(0, i + 1).join('/')), text: c }),
      ]));
    const props = h('div', { class: 'panel-body' }, h('p', { class: 'muted', text: 'Loading…' }));
    const blocksHost = h('div', { class: 'table-wrap' });
    const blocksTitle = h('h2', { text: 'Blocks' });
    const actions = h('div', { style: 'display:flex;gap:.5rem;flex-wrap:wrap' });
    main.append(
      h('div', { class: 'page-head' }, crumbs, h('span', { class: 'spacer' }), actions),
      h('section', { class: 'panel', 'aria-label': 'File properties' }, props),
      h('section', { class: 'panel', 'aria-label': 'Blocks' },
        h('div', { class: 'panel-body', style: 'padding-bottom:0' }, blocksTitle),
        blocksHost));

    let status = null;
    let drawnActions = false;
    async function load() {
      try {
        const [loc, nodes] = await Promise.all([
          api('/api/v1/blocks', { query: { path } }),
          api('/api/v1/datanodes').catch(() => []),
        ]);
        status = loc.status;
        draw(loc, nodes);
      } catch (e) {
        if (e.status === 409 || e.status === 400) {
          // A directory: show it in the browser instead.
          try {
            const st = await api('/rpc/v1/status', { query: { path } });
            if (st.type === 'directory') { location.replace(link('browse', path)); return; }
          } catch (_) { /* fall through to the error */ }
        }
        props.replaceChildren(errorBox(`Cannot show ${path}`, e,
          h('p', {}, h('a', { href: link('browse', parentOf(path)), text: `← Back to ${parentOf(path)}` }))));
        blocksHost.replaceChildren();
        stop();
      }
    }

    function draw(loc, nodes) {
      const s = loc.status;
      const byId = new Map(nodes.map((n) => [n.id, n]));
      if (!drawnActions) {
        drawnActions = true;
        actions.append(
          h('a', { class: 'btn primary', href: downloadUrl(path), download: s.name, dataset: { action: 'download' } }, icon('download'), h('span', { class: 'lbl', text: 'Download' })),
          button('Set replication', { icon: 'layers', onclick: () => setReplication() }),
          button('Rename', { icon: 'rename', onclick: async () => { const m = await renameEntry(status, null); if (m) location.replace(link('file', m.path)); } }),
          button('Delete', { icon: 'trash', onclick: async () => { if (await deleteEntry(status, null)) location.hash = link('browse', parentOf(path)); } }));
      }
      const minLive = loc.blocks.length ? Math.min(...loc.blocks.map((b) => b.replicas.length)) : s.replication;
      const repBadge = minLive >= s.replication
        ? h('span', { class: 'badge ok', text: 'fully replicated' })
        : minLive === 0 ? h('span', { class: 'badge bad', text: 'blocks missing' })
          : h('span', { class: 'badge warn', text: `${minLive} of ${s.replication} on some blocks` });
      const copy = button('Copy SHA-256', {
        icon: 'copy', iconOnly: true, class: 'ghost small',
        onclick: () => navigator.clipboard.writeText(s.sha256 || '').then(() => toast('SHA-256 copied'), (e) => showError(e, 'Cannot copy')),
      });
      const prop = (k, v, opts = {}) => h('div', { class: 'prop' + (opts.wide ? ' wide' : ''), dataset: { prop: opts.key || k.toLowerCase() } },
        h('div', { class: 'k', text: k }), h('div', { class: 'v', title: opts.title || null }, v));
      replaceKeepingFocus(props, h('div', { class: 'props' },
        h('div', { class: 'prop wide' }, h('h1', { text: s.name })),
        prop('Size', [fmtBytes(s.length), h('span', { class: 'muted', text: `  ${fmtInt(s.length)} bytes` })], { key: 'size' }),
        prop('Replication', [String(s.replication), ' ', repBadge], { key: 'replication' }),
        prop('Block size', fmtBytes(s.block_size), { key: 'block-size' }),
        prop('Blocks', fmtInt(loc.blocks.length), { key: 'blocks' }),
        prop('Modified', fmtTime(s.modification_time), { title: fmtTimeFull(s.modification_time), key: 'modified' }),
        prop('Accessed', fmtTime(s.access_time), { title: fmtTimeFull(s.access_time), key: 'accessed' }),
        prop('Owner', `${s.owner || '—'}${s.group ? ' : ' + s.group : ''}`, { key: 'owner' }),
        prop('Permission', fmtPerm(s.permission, s.type === 'directory'), { key: 'permission' }),
        prop('SHA-256', h('span', { style: 'display:flex;align-items:center;gap:.3rem' }, h('span', { class: 'hash', text: s.sha256 || '—' }), s.sha256 ? copy : null), { wide: true, key: 'sha256' })));

      blocksTitle.textContent = `Blocks (${loc.blocks.length})`;
      if (!loc.blocks.length) {
        blocksHost.replaceChildren(h('div', { class: 'empty', text: 'An empty file has no blocks.' }));
        return;
      }
      const rows = loc.blocks.map((b, i) => {
        const chips = b.replicas.map((r) => {
          const n = byId.get(r.id);
          const state = !n ? 'unknown' : n.state === 'dead' ? 'dead' : n.admin_state !== 'normal' ? n.admin_state : 'live';
          return h('span', { class: `replica ${state}`, title: `node ${r.id}`, dataset: { replica: r.addr, state } },
            h('span', { class: 'dot' }), h('span', { text: r.addr.replace(/^https?:\/\//, '') }), h('span', { class: 'muted', text: state }));
        });
        for (let k = b.replicas.length; k < s.replication; k++) {
          chips.push(h('span', { class: 'replica missing', title: 'A replica is missing; the namenode copies it again when a datanode can take it' }, h('span', { class: 'dot' }), 'missing'));
        }
        return h('tr', { dataset: { block: b.block_id } },
          h('td', { class: 'num muted', text: String(i + 1) }),
          h('td', { class: 'num nowrap', title: `${fmtInt(b.offset)} bytes`, text: fmtBytes(b.offset) }),
          h('td', { class: 'num nowrap', title: `${fmtInt(b.len)} bytes`, dataset: { bytes: String(b.len) }, text: fmtBytes(b.len) }),
          h('td', { class: 'hash nowrap', title: b.sha256 || '', text: shortHash(b.sha256) }),
          h('td', { class: 'node-id hide-narrow', title: b.block_id, text: String(b.block_id).slice(-8) }),
          h('td', {}, h('div', { class: 'replicas' }, chips)));
      });
      replaceKeepingFocus(blocksHost, h('table', { id: 'blocks' },
        h('thead', {}, h('tr', {},
          h('th', { class: 'num', text: '#' }), h('th', { class: 'num', text: 'Offset' }), h('th', { class: 'num', text: 'Length' }),
          h('th', { text: 'SHA-256' }), h('th', { class: 'hide-narrow', text: 'Block' }), h('th', { text: `Replicas (of ${s.replication})` }))),
        h('tbody', {}, rows)));
    }

    async function setReplication() {
      if (!status) return;
      const v = await modal({
        title: 'Set replication',
        body: [h('p', { class: 'muted', text: `How many datanodes should hold each block of ${status.name}. Extra copies are made or removed in the background.` })],
        ok: 'Set',
        input: { label: 'Replicas', type: 'number', value: String(status.replication), min: 1, max: 32 },
        validate: (x) => (/^\d+$/.test(x) && +x >= 1 && +x <= 512 ? null : 'A whole number, at least 1.'),
      });
      if (v == null) return;
      try {
        await api('/rpc/v1/setrep', { body: { path, replication: Number(v) } });
        toast(`Replication of ${status.name} set to ${v}`);
        load();
      } catch (e) { showError(e, 'Cannot set replication'); }
    }

    const stop = every(load);
    return { destroy: stop };
  }

  // ============================================================= OVERVIEW

  let repairPeak = 0; // largest remaining_bytes seen in the current repair episode

  function OverviewPage() {
    document.title = 'Overview · dfs';
    const updated = h('span', { class: 'updated muted', 'aria-live': 'off' });
    const host = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
    main.append(h('div', { class: 'page-head' }, h('h1', { text: 'Cluster overview' }), h('span', { class: 'spacer' }), updated), host);

    const stat = (key, n, label, tone) => h('div', { class: 'stat ' + (tone || ''), dataset: { stat: key } },
      h('div', { class: 'n', text: typeof n === 'number' ? fmtInt(n) : n }), h('div', { class: 'l', text: label }));

    function draw(s, err) {
      if (!s) {
        if (err && !summary) host.replaceChildren(errorBox('Cannot load the cluster summary', err));
        return;
      }
      const r = s.replication || {};
      const repairing = s.under_replicated_blocks > 0 || r.queued_blocks > 0 || r.pending_copies > 0 || r.remaining_bytes > 0;
      if (!repairing) repairPeak = 0; else repairPeak = Math.max(repairPeak, r.remaining_bytes || 0);
      // Each file system counts once, however many datanodes share it (see
      // ClusterSummary in the OpenAPI document): used + free + non-dfs +
      // reserved = capacity.
      const usedPct = pct(s.used, s.capacity);
      const nonDfs = s.non_dfs_used != null ? s.non_dfs_used : Math.max(0, s.capacity - s.used - s.available);
      const reserved = s.reserved || 0;
      const otherPct = Math.min(100 - usedPct, pct(nonDfs, s.capacity));
      const reservedPct = Math.min(100 - usedPct - otherPct, pct(reserved, s.capacity));
      const shared = s.filesystems > 0 && s.filesystems < s.live_datanodes;
      const ofWhat = `used by dfs, of ${fmtBytes(s.capacity)}` +
        (s.filesystems ? ` on ${plural(s.filesystems, 'file system')}` : '') +
        (shared ? ` shared by ${plural(s.live_datanodes, 'live datanode')}` : '');

      const capacity = h('section', { class: 'panel card span2', 'aria-label': 'Capacity' },
        h('h3', { text: 'Capacity' }),
        h('div', { style: 'display:flex;align-items:baseline;gap:.6rem;flex-wrap:wrap;margin-bottom:.5rem' },
          h('span', { style: 'font-size:1.6rem;font-weight:600', text: fmtPct(usedPct) }),
          h('span', {
            class: 'muted', dataset: { stat: 'capacity', bytes: String(s.capacity) }, text: ofWhat,
            title: 'What dfs may store: per file system, the smaller of its size and its datanodes\' capacities added up. Datanodes that share a file system count its size and free space once.',
          })),
        h('div', { class: 'bar big', role: 'meter', 'aria-label': 'Capacity used by dfs', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': usedPct.toFixed(0) },
          h('span', { class: usedPct > 90 ? 'bad' : usedPct > 75 ? 'warn' : '', style: `width:${usedPct}%` }),
          h('span', { class: 'other', style: `width:${otherPct}%` }),
          h('span', { class: 'reserved', style: `width:${reservedPct}%` })),
        h('div', { class: 'capacity-legend' },
          h('span', { dataset: { stat: 'used' } }, h('span', { class: 'legend-dot used' }), `dfs ${fmtBytes(s.used)}`),
          h('span', { dataset: { stat: 'other' }, title: 'Capacity taken by other files on the datanodes\' file systems' }, h('span', { class: 'legend-dot other' }), `Non-dfs ${fmtBytes(nonDfs)}`),
          reserved ? h('span', { dataset: { stat: 'reserved' }, title: 'Free space the file systems keep back from ordinary writers (root reserve)' }, h('span', { class: 'legend-dot reserved' }), `Reserved ${fmtBytes(reserved)}`) : null,
          h('span', { dataset: { stat: 'free' }, title: 'What dfs can still store; free space on a shared file system counts once' }, h('span', { class: 'legend-dot' }), `Free ${fmtBytes(s.available)}`)));

      const nodes = h('section', { class: 'panel card', 'aria-label': 'Datanodes' },
        h('h3', {}, h('a', { href: '#/datanodes', text: 'Datanodes →' })),
        h('div', { class: 'stat-row' },
          stat('live', s.live_datanodes, 'live', s.live_datanodes ? 'ok' : 'bad'),
          stat('dead', s.dead_datanodes, 'dead', s.dead_datanodes ? 'bad' : ''),
          stat('decommissioning', s.decommissioning_datanodes, 'decommissioning', s.decommissioning_datanodes ? 'warn' : ''),
          s.decommissioned_datanodes ? stat('decommissioned', s.decommissioned_datanodes, 'decommissioned') : null));

      const ns = h('section', { class: 'panel card', 'aria-label': 'Namespace' },
        h('h3', {}, h('a', { href: '#/browse/', text: 'Namespace →' })),
        h('div', { class: 'stat-row' },
          stat('files', s.files, 'files'), stat('directories', s.directories, 'directories'), stat('blocks', s.blocks, 'blocks')));

      const health = h('section', { class: 'panel card span2', 'aria-label': 'Block health' },
        h('h3', { text: 'Block health' }),
        h('div', { class: 'stat-row' },
          stat('under-replicated', s.under_replicated_blocks, 'under-replicated', s.under_replicated_blocks ? 'warn' : 'ok'),
          stat('corrupt', s.corrupt_blocks, 'corrupt', s.corrupt_blocks ? 'bad' : ''),
          stat('missing', s.missing_blocks, 'missing', s.missing_blocks ? 'bad' : ''),
          s.over_replicated_blocks ? stat('over-replicated', s.over_replicated_blocks, 'over-replicated') : null));

      const members = group && group.namenodes && group.namenodes.length > 1 ? group.namenodes : null;
      const roleBadge = (role) => h('span', { class: 'badge ' + (role === 'leader' ? 'ok' : role === 'learner' ? 'warn' : ''), text: role });
      const namenodes = members ? h('section', { class: 'panel card span2', 'aria-label': 'Namenodes', dataset: { namenodes: String(members.length) } },
        h('h3', { text: `Namenodes (${members.length})` }),
        h('p', { class: 'muted', style: 'margin:0 0 .5rem' },
          group.leader ? `${group.leader} leads (term ${group.term}). ` : 'No leader now: an election is under way, or too few namenodes are up. ',
          `This page is served by ${group.self} (${group.self_role}).`),
        h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, h('th', { text: 'Namenode' }), h('th', { text: 'Role' }), h('th', { text: 'Behind the leader' }))),
          h('tbody', {}, members.map((m) => h('tr', { dataset: { namenode: m.url, role: m.role } },
            h('td', { text: m.url }), h('td', {}, roleBadge(m.role)),
            h('td', { text: m.lag == null ? '—' : m.lag === 0 ? 'up to date' : plural(m.lag, 'entry', 'entries') }))))))) : null;

      const nn = h('section', { class: 'panel card span2', 'aria-label': 'Namenode' },
        h('h3', { text: 'Namenode' }),
        h('dl', { class: 'kv' },
          h('dt', { text: 'Safe mode' }),
          h('dd', { dataset: { stat: 'safe-mode' } }, s.safe_mode ? h('span', { class: 'badge warn', text: 'on' }) : h('span', { class: 'badge ok', text: 'off' })),
          s.safe_mode && s.safe_mode_reason ? [h('dt', { text: 'Why' }), h('dd', { text: s.safe_mode_reason })] : null,
          h('dt', { text: 'Uptime' }), h('dd', { dataset: { stat: 'uptime' }, text: fmtDuration(s.uptime_secs) }),
          h('dt', { text: 'Version' }), h('dd', { dataset: { stat: 'version' }, text: s.version || '—' }),
          h('dt', { text: 'Default replication' }), h('dd', { text: String(s.default_replication) }),
          h('dt', { text: 'Block size' }), h('dd', { text: fmtBytes(s.default_block_size) })));

      replaceKeepingFocus(host, repairPanel(s, repairing), h('div', { class: 'cards' }, capacity, nodes, ns, health, balancerPanel(), namenodes, nn));
      updated.textContent = `auto-refresh every ${REFRESH_MS / 1000} s · updated ${new Date(summaryAt).toLocaleTimeString()}`;
    }

    function repairPanel(s, repairing) {
      const r = s.replication || {};
      if (!repairing) {
        return h('section', { class: 'panel card repair idle', 'aria-label': 'Repair', dataset: { repair: 'idle' }, style: 'margin-bottom:1rem' },
          h('div', { class: 'repair-head' }, h('span', { class: 'badge ok', text: 'All blocks fully replicated' }),
            h('span', { class: 'muted', text: r.completed_copies ? `${plural(r.completed_copies, 'repair copy', 'repair copies')} (${fmtBytes(r.completed_bytes)}) made since the namenode started.` : 'Nothing to repair.' })));
      }
      const bps = r.bytes_per_sec || 0;
      let eta;
      let note = null;
      const usable = s.live_datanodes - s.decommissioning_datanodes - s.decommissioned_datanodes;
      if (bps > 0 && r.remaining_bytes > 0) eta = `about ${fmtDuration(r.remaining_bytes / bps)}`;
      else if (r.pending_copies > 0) eta = 'measuring…';
      else if (r.remaining_bytes === 0 && !r.queued_blocks) eta = 'finishing';
      else {
        eta = 'waiting';
        note = usable < s.default_replication
          ? `Only ${plural(usable, 'datanode')} can take copies but files want ${s.default_replication} replicas: blocks wait until a datanode joins or comes back.`
          : 'Copies start within a few heartbeats.';
      }
      const done = repairPeak > 0 ? 1 - (r.remaining_bytes || 0) / repairPeak : 0;
      return h('section', { class: 'panel card repair', 'aria-label': 'Repair in progress', dataset: { repair: 'active' }, style: 'margin-bottom:1rem' },
        h('div', { class: 'repair-head' },
          h('h2', { text: r.pending_copies > 0 ? 'Repairing' : 'Repair queued' }),
          h('span', { class: 'badge warn', text: `${plural(s.under_replicated_blocks, 'block')} under-replicated` }),
          h('span', { class: 'spacer', style: 'flex:1' }),
          h('span', { class: 'muted', dataset: { stat: 'eta' } }, 'ETA ', h('strong', { text: eta }))),
        h('div', { class: 'bar big', role: 'progressbar', 'aria-label': 'Repair progress', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': (done * 100).toFixed(0) },
          h('span', { class: 'warn', style: `width:${(done * 100).toFixed(1)}%` })),
        h('div', { class: 'stat-row', style: 'margin-top:.85rem' },
          stat('queued', r.queued_blocks || 0, 'blocks queued'),
          stat('in-flight', r.pending_copies || 0, 'copies in flight'),
          stat('remaining', fmtBytes(r.remaining_bytes || 0), 'left to copy'),
          stat('rate', fmtRate(bps), 'repair rate'),
          stat('completed', r.completed_copies || 0, `copies done (${fmtBytes(r.completed_bytes || 0)})`)),
        note ? h('p', { class: 'muted', style: 'margin:.75rem 0 0', text: note }) : null);
    }

    /** What the balancer is doing (`dfs balancer --status`). */
    function balancerPanel() {
      const b = balancer;
      if (!b) {
        return h('section', { class: 'panel card span2', 'aria-label': 'Balancer', dataset: { balancer: 'unknown' } },
          h('h3', { text: 'Balancer' }), h('p', { class: 'muted', style: 'margin:0', text: balancerErr ? `Cannot load its status: ${balancerErr.message}` : 'Loading…' }));
      }
      const spread = `within ${b.threshold} points of the average used share`;
      const started = b.running || b.last_stop != null; // the figures below are 0 before the first start
      let doing;
      if (b.running) {
        doing = b.moves_in_flight > 0
          ? `Moving ${plural(b.moves_in_flight, 'replica')} from ${plural(b.nodes_over, 'node')} above the average to ${plural(b.nodes_under, 'node')} below it, until every node is ${spread}.`
          : `Looking for replicas to move: ${plural(b.nodes_over, 'node')} above and ${plural(b.nodes_under, 'node')} below the average, until every node is ${spread}.`;
      } else if (b.last_stop === 'balanced') {
        doing = `Finished: every node was ${spread}.`;
      } else if (b.last_stop) {
        doing = `Not running (${b.last_stop}). Start it with \`dfs balancer\`.`;
      } else {
        doing = 'Not started since the namenode started. Start it with `dfs balancer` after adding datanodes.';
      }
      return h('section', { class: 'panel card span2 balancer', 'aria-label': 'Balancer', dataset: { balancer: b.running ? 'running' : 'idle' } },
        h('h3', { text: 'Balancer' }),
        h('div', { class: 'repair-head' },
          b.running ? h('span', { class: 'badge info', text: 'running' }) : h('span', { class: 'badge', text: 'not running' }),
          h('span', { class: 'muted', dataset: { stat: 'balancer-doing' }, text: doing })),
        h('div', { class: 'stat-row' },
          stat('balancer-moved', fmtBytes(b.bytes_moved), `moved in ${plural(b.moves_done, 'move')}`),
          stat('balancer-in-flight', b.moves_in_flight, 'moves in flight'),
          stat('balancer-abandoned', b.moves_abandoned, 'moves given up', b.moves_abandoned ? 'warn' : ''),
          stat('balancer-threshold', started ? `±${b.threshold}` : '—', 'threshold (points)'),
          stat('balancer-average', started ? fmtPct(b.average_used_pct) : '—', 'average used'),
          stat('balancer-bandwidth', fmtRate(b.bandwidth), 'bandwidth')));
    }

    // The namenodes as the one serving this page sees them (a group of one
    // shows no panel) and the balancer; read before the summary, whose
    // arrival redraws.
    let group = null;
    let balancer = null;
    let balancerErr = null;
    const refresh = async () => {
      const [g, b] = await Promise.allSettled([api('/api/v1/namenodes'), api('/api/v1/balancer')]);
      group = g.status === 'fulfilled' ? g.value : null;
      balancer = b.status === 'fulfilled' ? b.value : null;
      balancerErr = b.status === 'rejected' ? b.reason : null;
      await pollSummary();
    };
    summaryListeners.add(draw);
    const stop = every(refresh); // the header also uses the summary; refresh faster here is harmless
    if (summary) draw(summary);
    return { destroy() { stop(); summaryListeners.delete(draw); } };
  }

  // ============================================================ DATANODES

  const drainPeak = new Map(); // node id → largest remaining seen while decommissioning

  function DatanodesPage() {
    document.title = 'Datanodes · dfs';
    const sub = h('span', { class: 'muted' });
    const updated = h('span', { class: 'updated muted' });
    const host = h('section', { class: 'panel' }, h('p', { class: 'muted pad', text: 'Loading…' }));
    main.append(h('div', { class: 'page-head' }, h('h1', { text: 'Datanodes' }), sub, h('span', { class: 'spacer' }), updated), host);
    let failedOnce = false;

    async function load() {
      let nodes;
      try {
        nodes = await api('/api/v1/datanodes');
        failedOnce = false;
      } catch (e) {
        if (!failedOnce) host.replaceChildren(h('div', { class: 'pad' }, errorBox('Cannot load datanodes', e)));
        failedOnce = true;
        return;
      }
      draw(nodes);
      updated.textContent = `auto-refresh every ${REFRESH_MS / 1000} s · updated ${new Date().toLocaleTimeString()}`;
    }

    function draw(nodes) {
      nodes.sort((a, b) => a.addr.localeCompare(b.addr, undefined, { numeric: true }));
      const live = nodes.filter((n) => n.state === 'live').length;
      // Node rows are per node; the cluster's capacity counts a file system
      // that several nodes share once, so it comes from the summary.
      const space = summary ? ` · ${fmtBytes(summary.used)} used of ${fmtBytes(summary.capacity)}` : '';
      sub.textContent = `${plural(nodes.length, 'node')} · ${live} live · ${nodes.length - live} dead${space}`;
      const failedDisks = nodes.filter((n) => n.state === 'live')
        .reduce((k, n) => k + (n.disks || []).filter((d) => d.state === 'failed').length, 0);
      const maint = nodes.filter((n) => n.in_maintenance).length;
      if (failedDisks) sub.textContent += ` · ${plural(failedDisks, 'failed disk')}`;
      if (maint) sub.textContent += ` · ${maint} in maintenance`;
      const sharing = new Map(); // file system → live nodes on it
      for (const n of nodes) if (n.state === 'live' && n.filesystem) sharing.set(n.filesystem, (sharing.get(n.filesystem) || 0) + 1);
      if (!nodes.length) {
        host.replaceChildren(h('div', { class: 'empty', text: 'No datanode has registered yet. Start one with `datanode --namenode <this address>`.' }));
        return;
      }
      const rows = nodes.map((n) => {
        const addr = n.addr.replace(/^https?:\/\//, '');
        const usedPct = pct(n.used, n.capacity);
        const stateBadge = n.state === 'live' ? h('span', { class: 'badge ok', text: 'live' }) : h('span', { class: 'badge bad', text: 'dead' });
        const adminBadge = n.admin_state === 'normal'
          ? h('span', { class: 'badge', text: 'in service' })
          : h('span', { class: 'badge warn', text: n.admin_state });
        // Maintenance is beside the admin state (a decommissioning node
        // may be in maintenance too), so it gets its own badge.
        const maintenance = n.in_maintenance
          ? h('div', { class: 'maintenance', dataset: { maintenance: n.maintenance_ends_in_ms == null ? 'until-ended' : String(n.maintenance_ends_in_ms) } },
            h('span', { class: 'badge info', text: 'maintenance' }),
            h('div', {
              class: 'muted', title: 'Its blocks are not copied elsewhere while it is silent, as long as each keeps a live replica on another node',
              text: n.maintenance_ends_in_ms == null ? 'until ended' : `ends in ${fmtDuration(n.maintenance_ends_in_ms / 1000)}`,
            }))
          : null;
        let drain = null;
        if (n.admin_state === 'decommissioning') {
          const peak = Math.max(drainPeak.get(n.id) || 0, n.decommission_remaining_blocks, 1);
          drainPeak.set(n.id, peak);
          const done = 1 - n.decommission_remaining_blocks / peak;
          drain = h('div', { class: 'drain', dataset: { drain: String(n.decommission_remaining_blocks) } },
            `${plural(n.decommission_remaining_blocks, 'block')} left to drain`,
            h('div', { class: 'bar' }, h('span', { style: `width:${(done * 100).toFixed(1)}%` })));
        } else drainPeak.delete(n.id);
        if (n.admin_state === 'decommissioned') drain = h('div', { class: 'drain', dataset: { drain: '0' }, text: 'drained: safe to stop' });
        const act = h('div', { class: 'node-actions' },
          n.admin_state === 'normal'
            ? button('Decommission', { class: 'small', dataset: { action: 'decommission', focusKey: 'dec-' + n.id }, onclick: () => adminAction(n, true) })
            : button('Recommission', { class: 'small', dataset: { action: 'recommission', focusKey: 'rec-' + n.id }, onclick: () => adminAction(n, false) }),
          n.in_maintenance
            ? button('End maintenance', { class: 'small', dataset: { action: 'end-maintenance', focusKey: 'endm-' + n.id }, onclick: () => maintenanceAction(n, false) })
            : button('Maintenance', { class: 'small', dataset: { action: 'maintenance', focusKey: 'm-' + n.id }, onclick: () => maintenanceAction(n, true) }));
        const hbOld = n.state === 'live' && n.last_heartbeat_ms > 10000;
        return h('tr', { dataset: { node: n.id, addr, state: n.state, admin: n.admin_state, rack: n.rack || '' } },
          h('td', {}, h('div', { style: 'font-weight:500', text: addr }), h('div', { class: 'node-id muted', title: n.id, text: shortId(n.id) }),
            n.rack ? h('div', { class: 'node-rack muted', title: 'Rack (datanode --rack)', text: `rack ${n.rack}` }) : null),
          h('td', {}, stateBadge),
          h('td', {}, adminBadge, drain, maintenance),
          h('td', { class: 'usage' },
            h('div', { class: 't', text: `${fmtBytes(n.used)} of ${fmtBytes(n.capacity)} (${fmtPct(usedPct)})` }),
            (sharing.get(n.filesystem) || 0) > 1
              ? h('div', {
                class: 'shared-fs muted', dataset: { sharedFs: n.filesystem },
                title: `File system ${n.filesystem}: its size and free space count once in the cluster's capacity`,
                text: `disk shared with ${plural(sharing.get(n.filesystem) - 1, 'other node')}`,
              })
              : null,
            h('div', { class: 'bar', role: 'meter', 'aria-label': `Usage of ${addr}`, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': usedPct.toFixed(0) },
              h('span', { class: usedPct > 90 ? 'bad' : usedPct > 75 ? 'warn' : '', style: `width:${usedPct}%` })),
            disksList(n)),
          h('td', { class: 'num', text: fmtInt(n.blocks) }),
          h('td', { class: 'num hide-narrow', text: n.replication_in_flight ? String(n.replication_in_flight) : '—' }),
          h('td', { class: 'nowrap' + (n.state === 'dead' ? ' ' : '') , style: n.state === 'dead' || hbOld ? 'color:var(--bad)' : null, text: fmtAge(n.last_heartbeat_ms) }),
          h('td', { class: 'num' }, act));
      });
      replaceKeepingFocus(host, h('div', { class: 'table-wrap' }, h('table', { id: 'datanodes' },
        h('thead', {}, h('tr', {},
          h('th', { text: 'Node' }), h('th', { text: 'State' }), h('th', { text: 'Admin state' }),
          h('th', { title: 'The node\'s capacity and usage, then each of its data dirs (datanode --data-dir A,B,…): a failed one is out of service and its replicas are copied elsewhere', text: 'Capacity · disks' }),
          h('th', { class: 'num', text: 'Blocks' }), h('th', { class: 'num hide-narrow', title: 'Repair copies being sent or received', text: 'Copies' }),
          h('th', { text: 'Last heartbeat' }), h('th', { class: 'num' }, h('span', { class: 'hide-narrow', text: 'Actions' })))),
        h('tbody', {}, rows))));
    }

    /** A datanode's data dirs, as its last heartbeat named them (none from an older datanode). */
    function disksList(n) {
      const disks = n.disks || [];
      if (!disks.length) return null;
      return h('div', { class: 'disks', 'aria-label': `Disks of ${n.addr.replace(/^https?:\/\//, '')}` }, disks.map((d) => {
        const failed = d.state === 'failed';
        return h('div', { class: 'disk' + (failed ? ' failed' : ''), dataset: { disk: d.dir, diskState: d.state } },
          h('div', { class: 'disk-head' },
            h('span', { class: 'disk-dir', title: d.dir, text: d.dir }),
            failed ? h('span', { class: 'badge bad', text: 'failed' }) : h('span', { class: 'badge ok', text: 'in service' })),
          h('div', {
            class: 'disk-use muted',
            text: failed
              ? d.error || 'out of service'
              : `${fmtBytes(d.used)} of ${fmtBytes(d.capacity)} (${fmtPct(pct(d.used, d.capacity))}) · ${plural(d.blocks, 'block')}`,
          }));
      }));
    }

    async function maintenanceAction(n, enter) {
      const addr = n.addr.replace(/^https?:\/\//, '');
      const verb = enter ? 'maintenance' : 'maintenance/end';
      let query;
      if (enter) {
        const v = await modal({
          title: `Put ${addr} in maintenance?`,
          body: ['It gets no new blocks, and while it is stopped its blocks are not copied elsewhere, as long as each keeps a live replica on another node.'],
          ok: 'Start maintenance',
          input: { label: 'For how long (e.g. 30m, 2h; empty: until ended)', value: '30m' },
        });
        if (v == null) return;
        query = v.trim() ? { for: v.trim() } : undefined;
      } else {
        const ok = await modal({
          title: `End the maintenance of ${addr}?`,
          body: ['If it is silent it counts as dead again, and its blocks are copied elsewhere.'],
          ok: 'End maintenance',
        });
        if (!ok) return;
      }
      try {
        await api(`/api/v1/datanodes/${encodeURIComponent(n.id)}/${verb}`, { method: 'POST', query });
        toast(enter ? `${addr} is in maintenance` : `The maintenance of ${addr} is over`);
        load();
      } catch (e) { showError(e, enter ? `Cannot put ${addr} in maintenance` : `Cannot end the maintenance of ${addr}`); }
    }

    async function adminAction(n, decommission) {
      const addr = n.addr.replace(/^https?:\/\//, '');
      const ok = await modal(decommission
        ? {
          title: `Decommission ${addr}?`,
          body: [`Its ${plural(n.blocks, 'block')} will be copied to other datanodes, and it gets no new blocks.`,
            h('p', { class: 'muted', text: 'Once it shows “decommissioned” it can be stopped without any block losing replication. You can recommission it at any time.' })],
          ok: 'Decommission', danger: true,
        }
        : {
          title: `Recommission ${addr}?`,
          body: ['It returns to service: it takes new blocks again and its replicas count toward replication.'],
          ok: 'Recommission',
        });
      if (!ok) return;
      const verb = decommission ? 'decommission' : 'recommission';
      try {
        await api(`/api/v1/datanodes/${encodeURIComponent(n.id)}/${verb}`, { method: 'POST' });
        toast(decommission ? `Decommissioning ${addr}: draining its blocks` : `${addr} is back in service`);
        load();
      } catch (e) { showError(e, `Cannot ${verb} ${addr}`); }
    }

    const stop = every(load);
    return { destroy: stop };
  }

  // ---------------------------------------------------------------- start

  window.addEventListener('hashchange', render);
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/browse/');
  render();
  pollSummary();
  api('/auth/whoami').then(showUser, () => { /* 401: the login form is up */ });
  setInterval(() => { if (!document.hidden && !loginShown && route().name !== 'overview') pollSummary(); }, REFRESH_MS);
})();
