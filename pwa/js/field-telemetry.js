// Drop-off telemetry per field (POST /api/telemetry/sessions, docs/api.md). Imported lazily by the form pages
// (page-draft.js, page-review.js: the first screen's size budget has no room for it), never by the shell.
// A session = one draft's form, from its first opening until it is sent: the fields shown (visible by the
// form's rules, in first-shown order), the field last focused, how many times each field showed a validation
// error after a press of 次へ / the last step's button. Sent when the form is left (another page of the app,
// the app hidden or closed: outcome 'left') and when sent ('submitted'); coming back to the same draft, even
// after the app restarted, continues its session (kept on the device with the draft's id, a random session id
// of its own: the draft id never leaves; the server upserts by `session`), so a draft resumed counts one start.
// Paths and counts only: never an answer. Nothing at all in a preview (<html data-preview>).

const URL_ = '/api/telemetry/sessions';
const MAX = 500; // the server's limits: ≤ 500 paths, each ≤ 200 characters, counts ≤ 10000

/** A field's path in the definition: group item indexes dropped (`kids[1].name` → `kids.name`). */
export const fieldPath = (path) => String(path).replace(/\[\d+\]/g, '');

/** A random session id (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function newId(rand = (a) => crypto.getRandomValues(a)) {
  return Array.from(rand(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function createSession({ procedure_id, procedure_version }, staff, now = new Date(), id = newId()) {
  return { id, procedure_id, procedure_version, channel: staff ? 'staff' : 'resident', started_at: now.toISOString(), viewed: [], last: null, errors: {} };
}

/** The draft's session as kept on the device (`saved`), when it is one of this version; else a new one. */
export function resume(saved, d, staff, now = new Date(), id = newId()) {
  const ok = saved && typeof saved.id === 'string' && /^[0-9a-f]{32}$/.test(saved.id) && saved.procedure_id === d.procedure_id
    && saved.procedure_version === d.procedure_version && Array.isArray(saved.viewed) && saved.errors && typeof saved.errors === 'object';
  return ok ? { ...saved, viewed: saved.viewed.slice(0, MAX), errors: { ...saved.errors } } : createSession(d, staff, now, id);
}

/**
 * The answer paths shown among `nodes` (elements with data-path, in document order): those with no hidden
 * ancestor (render.js's applyResult hides what the form's rules do not show; a hidden step is not drawn).
 */
export function visiblePaths(nodes) {
  const out = [];
  for (const n of nodes) if (!n.closest('[hidden]')) out.push(n.getAttribute('data-path'));
  return out;
}

/** Record paths shown now (first-shown order, each once). */
export function see(s, paths) {
  for (const p of paths) {
    const f = fieldPath(p);
    if (f && f.length <= 200 && s.viewed.length < MAX && !s.viewed.includes(f)) s.viewed.push(f);
  }
}

export function focus(s, path) {
  const f = fieldPath(path);
  if (f && f.length <= 200) s.last = f;
}

/**
 * A press of 次へ / the last step's button: `paths` = the answer paths showing an error message after it.
 * +1 per field (its path in the definition: two items of a group showing one = +1); messages that come and
 * go while the person types between presses count nothing (docs/analytics.md).
 */
export function pressed(s, paths) {
  for (const f of new Set(Array.from(paths, fieldPath))) {
    if (!f || f.length > 200 || (!(f in s.errors) && Object.keys(s.errors).length >= MAX)) continue;
    s.errors[f] = Math.min((s.errors[f] || 0) + 1, 10000);
  }
}

/** The body of POST /api/telemetry/sessions. last_field: the field last focused, else the last shown. */
export function payload(s, outcome, now = new Date()) {
  return {
    session: s.id, procedure_id: s.procedure_id, procedure_version: s.procedure_version, channel: s.channel,
    started_at: s.started_at, ended_at: now.toISOString(), outcome, viewed: s.viewed.slice(),
    last_field: outcome === 'left' ? s.last || s.viewed[s.viewed.length - 1] || null : null, errors: { ...s.errors },
  };
}

// ---- the page's side (DOM, events) ----

let cur = null; // { draft, s } while a form of that draft is on screen
let watching = false;
let queued = false;

const off = () => typeof document === 'undefined' || document.documentElement.dataset.preview !== undefined;
const onForm = () => cur && `${location.hash}/`.startsWith(`#/d/${cur.draft}/`); // #/d/{draft}, …/{n}, …/review

// Offline (outreach at a resident's home, a counter's network down): kept on the device and sent when the
// connection returns or the next form opens. The server upserts by session: sending twice is harmless.
const PENDING = 'madoguchi-form-sessions';
const pending = () => { try { return JSON.parse(localStorage.getItem(PENDING)) || {}; } catch { return {}; } };
const keep = (all) => { try { localStorage.setItem(PENDING, JSON.stringify(all)); } catch { /* full: dropped */ } };

// Each draft's session, kept until the draft is sent (the newest 50 drafts): draft id -> session.
const SESSIONS = 'madoguchi-form-session-of-draft';
const kept = () => { try { return JSON.parse(localStorage.getItem(SESSIONS)) || {}; } catch { return {}; } };
function remember(draft, s) {
  const all = kept();
  delete all[draft]; // re-added last: the newest at the end
  if (s) all[draft] = s;
  const ids = Object.keys(all);
  for (const id of ids.slice(0, Math.max(0, ids.length - 50))) delete all[id];
  try { localStorage.setItem(SESSIONS, JSON.stringify(all)); } catch { /* full: this page's life only */ }
}

function post(body) {
  let queuedBeacon = false;
  try { queuedBeacon = navigator.sendBeacon(URL_, new Blob([body], { type: 'application/json' })); } catch { /* fall back */ }
  if (!queuedBeacon) fetch(URL_, { method: 'POST', keepalive: true, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body }).catch(() => {});
}

function send(outcome) {
  if (!cur || off()) return;
  const p = payload(cur.s, outcome);
  if (navigator.onLine === false) {
    const all = pending();
    all[p.session] = p;
    const ids = Object.keys(all);
    for (const id of ids.slice(0, Math.max(0, ids.length - 50))) delete all[id]; // the newest 50 sessions
    keep(all);
  } else {
    const all = pending(); // an older state of this session kept offline must not follow this one
    if (all[p.session]) { delete all[p.session]; keep(all); }
    post(JSON.stringify(p));
  }
}

function sendPending() {
  if (navigator.onLine === false || off()) return;
  const all = pending();
  if (!Object.keys(all).length) return;
  keep({});
  for (const p of Object.values(all)) post(JSON.stringify(p));
}

function scan() {
  queued = false;
  if (!onForm()) return;
  const main = document.getElementById('main');
  if (!main) return;
  see(cur.s, visiblePaths(main.querySelectorAll('[data-path]')));
}

/** The step's form was submitted (次へ): once its handler has drawn the errors, count the fields showing one. */
function onPress(e) {
  if (!onForm() || !e.target.closest || !e.target.closest('#main')) return;
  const { draft, s } = cur;
  setTimeout(() => {
    if (!cur || cur.s !== s) return;
    scan();
    const paths = [];
    for (const p of document.querySelectorAll('#main [data-path] > .error-text:not([hidden])')) {
      if (p.textContent && !p.closest('[hidden]')) paths.push(p.parentElement.getAttribute('data-path'));
    }
    pressed(s, paths);
    remember(draft, s);
  }, 0);
}

const later = () => { if (!queued) { queued = true; setTimeout(scan, 0); } };

function leave() {
  if (!cur) return;
  scan();
  remember(cur.draft, cur.s);
  send('left');
}

function watch() {
  watching = true;
  new MutationObserver(later).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden'] });
  document.addEventListener('submit', onPress, true);
  document.addEventListener('focusin', (e) => {
    const node = onForm() && e.target.closest && e.target.closest('[data-path]');
    if (node) focus(cur.s, node.getAttribute('data-path'));
  });
  window.addEventListener('pagehide', leave);
  window.addEventListener('online', sendPending);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden' && onForm()) leave(); });
  window.addEventListener('hashchange', () => {
    if (cur && !onForm()) { leave(); cur = null; }
  });
}

/** The form of draft `d` is being drawn (each step, the review): start or continue its session. */
export function track(d, staff) {
  if (off()) return;
  if (cur && cur.draft !== d.id) { leave(); cur = null; }
  let s = cur && cur.draft === d.id ? cur.s : null;
  if (!s || s.procedure_version !== d.procedure_version) remember(d.id, (s = resume(kept()[d.id], d, staff)));
  cur = { draft: d.id, s };
  if (!watching) { watch(); sendPending(); }
  later();
}

/** The draft was sent: the session ends 'submitted'. */
export function sent(d) {
  if (!cur || cur.draft !== d.id) return;
  scan();
  send('submitted');
  remember(d.id, null);
  cur = null;
}
