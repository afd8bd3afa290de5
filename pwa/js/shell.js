// What every page of the resident app shares: the build index, catalog and library files, the session, the sync
// status bar and its scheduler, saving drafts, and small page helpers. Pages (page-*.js) import this; it
// imports no page (the router in app.js loads pages when first needed).

import { t, tx } from './i18n.js';
import { store } from './db.js';
import { syncSummary, reviewConflicts } from './syncstate.js';
import { api, csrf, setCsrf } from './api.js';
import { el } from './dom.js';
import { createDraftSaver, newDraftRecord } from './drafts.js';
import { createSyncScheduler } from './scheduler.js';

const SESSION_KEY = 'madoguchi.session';
const ACTING_KEY = 'madoguchi.actingFor';

export function readJSON(key) { try { return JSON.parse(localStorage.getItem(key)); } catch { return null; } }
export function writeJSON(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* ignore */ } }
export const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

export const state = {
  index: null,
  session: readJSON(SESSION_KEY) || { signed_in: false, account: null },
  procCache: new Map(),
  // The shown page's reactions to sync events (set when it is shown, cleared on navigation).
  onOutbox: null,
  onPulled: null,
  // Record types pulled while the next page was being drawn (route() clears onPulled): told to it once shown.
  missedPulls: null,
  // The start's GET /api/session (sessionReady): a procedure opened cold waits for it instead of asking again.
  sessionReady: null,
};

// ------------------------------------------------------------------------------------------ data

export async function loadIndex() {
  if (!state.index) state.index = await (await fetch(document.documentElement.dataset.index)).json();
  return state.index;
}

/** Titles, descriptions and keywords of every procedure and life event (the finder and home page). */
export async function loadCatalog() {
  return loadJSON((await loadIndex()).catalog);
}

export async function loadJSON(path) {
  if (!state.procCache.has(path)) {
    const p = fetch(path).then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); });
    p.catch(() => state.procCache.delete(path));
    state.procCache.set(path, p);
  }
  return state.procCache.get(path);
}

export async function latestProcedure(id) {
  const index = await loadIndex();
  const entry = index.procedures[id];
  if (!entry) return null;
  const path = entry.versions[entry.latest];
  return { path, compiled: await loadJSON(path), entry };
}

// ------------------------------------------------------------------------------------------ session

export async function refreshSession() {
  try {
    const s = await api('/api/session');
    state.session = s;
    setCsrf(s.csrf_token);
    await store.setMeta('csrf', s.csrf_token);
    writeJSON(SESSION_KEY, { signed_in: s.signed_in, account: s.account });
  } catch { /* offline: keep the cached session */ }
  renderAccount();
  return state.session;
}

/** The session as the server said it at this start (or when back online): one request, shared by the start and
 * the first page that needs it; signing in or out refreshes state.session itself. */
export function sessionReady() {
  return state.sessionReady || (state.sessionReady = refreshSession());
}

export function renderAccount() {
  const a = document.getElementById('account-link');
  const acc = state.session && state.session.signed_in && state.session.account;
  a.textContent = acc ? t('signedInAs', { name: acc.display_name || '' }) : t('signin');
}

export async function loadProfile() {
  if (!state.session.signed_in) return null;
  try {
    const p = await api('/api/me/profile');
    await store.setMeta('profile', p);
    return p;
  } catch { return (await store.getMeta('profile')) || null; }
}

/**
 * The prefill profile of the resident staff act for (GET /api/residents/{id}/profile, audited), kept on the
 * device per staff account so that a form started offline on a home visit is prefilled too; null when it
 * was never read here.
 */
async function residentProfile(acting) {
  const key = `profile:${state.session.account && state.session.account.id}:${acting.id}`;
  try {
    const p = { ...(await api(`/api/residents/${encodeURIComponent(acting.id)}/profile`)), for: acting.id };
    await store.setMeta(key, p);
    return p;
  } catch { return (await store.getMeta(key)) || null; }
}

/** Read the profile of the resident staff now act for while online (a home visit may be offline). */
export function prefetchProfile(acting) {
  if (acting && state.session.signed_in) residentProfile(acting).catch(() => {});
}

export function actingFor() { return readJSON(ACTING_KEY); }
export function setActingFor(r) { writeJSON(ACTING_KEY, r); }
/** Whether the signed-in account may use `capability`: the server's one role policy (server/auth/roles.py
 * CAPABILITIES), sent with the session as `account.can`; the app keeps no copy of the roles. */
export function can(capability) {
  const acc = state.session.signed_in && state.session.account;
  return Boolean(acc && Array.isArray(acc.can) && acc.can.includes(capability));
}
/** Whether this device's user may start applications: anyone signed out (drafts wait for sign-in), else a filing role. */
export function mayFile() { return !state.session.signed_in || can('file'); }
/** Staff who file on behalf of a resident they pick. */
export function isStaff() { return can('file_on_behalf'); }

// ------------------------------------------------------------------------------------------ sync and its status

export function reasonText(reason) {
  if (reason === 'offline') return t('offline');
  if (reason === 'auth') return t('needSignin');
  if (reason === 'account') return t('otherAccount');
  if (reason === 'file') return t('fileFailed');
  return reason;
}

let lastSummary = null;
export async function updateSync() {
  return renderSummary(await syncSummary(store));
}

/** The status bar (role=status) and its retry button; again from the last summary after a language change. */
export function renderSummary(s = lastSummary) {
  if (!s) return null;
  lastSummary = s;
  const syncEl = document.getElementById('sync-status');
  const retryBtn = document.getElementById('sync-retry');
  syncEl.classList.toggle('is-failed', s.kind === 'failed');
  syncEl.textContent = s.kind === 'ok' ? t('allSent') : s.kind === 'failed' ? t('failed', { reason: reasonText(s.reason) }) : t('nWaiting', { n: s.count });
  retryBtn.hidden = s.kind === 'ok';
  retryBtn.textContent = t('retry');
  document.getElementById('sync-details').textContent = t('outboxLink');
  return s;
}

function syncEnv(force) {
  return {
    store, force,
    fetch: (u, o) => fetch(u, o),
    csrf: async () => csrf() || (await store.getMeta('csrf')),
    account: async () => (state.session.signed_in && state.session.account ? state.session.account.id : null),
    refreshCsrf: () => refreshSession(),
    onChange: () => { updateSync(); },
    onPulled: pulled,
  };
}

/** A pull (this page's sync or the service worker's) brought these record types: the shown page reacts; a
 * page still being drawn read the store maybe before they arrived, so it hears of them when shown. */
export function pulled(types) {
  if (state.onPulled) state.onPulled(types);
  else if (state.missedPulls) for (const x of types) state.missedPulls.add(x);
}

/** Whether anything still has to go out (the scheduler then retries at the engine's backoff time). */
async function waiting() {
  const [outbox, blobs, backoff] = await Promise.all([store.all('outbox'), store.all('blobs'), store.getMeta('backoff')]);
  const w = outbox.some((e) => e.state === 'waiting' || e.state === 'sending') || blobs.some((b) => b.queued && !b.uploaded && !b.failed);
  return { waiting: w, nextAt: backoff && backoff.next_at ? backoff.next_at : null };
}

// The sync engine is not needed to show a page: it loads on the first commit or sync (after the first
// page, in the background), so opening a form downloads less.
export const syncEngine = () => import('./sync.js');

export const drafts = createDraftSaver({
  store, commit: async (...args) => (await syncEngine()).commitDraft(...args),
  onCommitted: () => { updateSync(); flush(); },
});

export const scheduler = createSyncScheduler({
  // Commit pending draft edits, then push, pull and upload.
  run: async (force) => {
    await drafts.flush();
    try {
      if (!csrf() && navigator.onLine) await refreshSession();
      await (await syncEngine()).syncNow(syncEnv(force));
    } catch (e) { console.error(e); }
    const s = await updateSync();
    if (state.onOutbox) state.onOutbox();
    return s;
  },
  waiting,
  // Changes made on the user's other devices (or by colleagues) arrive by pull: ask now and then.
  canPoll: () => navigator.onLine && document.visibilityState === 'visible' && state.session.signed_in,
});

export function flush(force = false) { return scheduler.trigger({ force }); }

export async function registerSync() {
  try {
    const reg = await navigator.serviceWorker.ready;
    if (reg.sync) await reg.sync.register('outbox');
  } catch { /* Background Sync unavailable: the page syncs on 'online' and at start */ }
}

/** The profile a new draft is prefilled from: the resident staff act for, else the signed-in resident's own. */
export async function filerProfile() {
  const acting = isStaff() ? actingFor() : null;
  return !state.session.signed_in ? null : acting ? residentProfile(acting) : loadProfile();
}

/**
 * A new draft of procedure `p` ({path, compiled}), stored and committed (it exists on the server from now
 * on). `profile`: already read by the caller (a bundle reads it once for all its drafts); else read here.
 */
export async function newDraft(p, extra = {}, profile) {
  const acting = isStaff() ? actingFor() : null;
  const d = newDraftRecord(p, { profile: profile === undefined ? await filerProfile() : profile, acting, uuid, extra });
  await store.put('drafts', d);
  drafts.schedule(d.id);
  return d;
}

// ------------------------------------------------------------------------------------------ page helpers

let rerender = () => {};
/** Draw the current route again (after a change the page shows); the app sets how. */
export function route(focus = true) { return rerender(focus); }
export function setRouteHandler(fn) { rerender = fn; }

let refreshTimer = null;
/** Redraw soon (several sync events in a row make one redraw). */
export function refreshSoon() { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => route(false), 100); }

export function focusTitle() {
  const h = document.getElementById('page-title');
  if (h) h.focus({ preventScroll: false });
}

/** Where the user is: 1. 入力 → 2. 確認 → 3. 完了. */
export function steps(current) {
  return el('ol', { class: 'steps', 'aria-label': `${t('stepInput')} → ${t('stepReview')} → ${t('stepDone')}` },
    ['stepInput', 'stepReview', 'stepDone'].map((k, i) => el('li', { 'aria-current': i === current ? 'step' : null, text: `${i + 1}. ${t(k)}` })));
}

export function link(href, text, cls) { return el('a', { href, class: cls || null, text }); }

export function statusBadge(status) {
  const cls = { accepted: 'badge-ok', completed: 'badge-ok', needs_info: 'badge-warn', rejected: 'badge-err' }[status] || '';
  return el('span', { class: `badge ${cls}`, text: t(`status_${status}`) });
}

export function itemStateText(entry) {
  if (!entry) return '';
  if (entry.state === 'failed') return t('failed', { reason: reasonText(entry.message || entry.reason) });
  return t(`item_${entry.state}`);
}

export function entryTitle(e) {
  const l = e.label || {};
  const title = l.title ? tx(l.title) : '';
  return `${t(`kind_${l.kind || e.type}`)}${title ? `：${title}` : ''}`;
}

/** A synced field's name for people (household and resident fields have UI names; answers use their id). */
export function fieldName(f) {
  const key = `field_${String(f).split('[')[0]}`;
  const label = t(key);
  return label === key ? f : label;
}

export function showValue(v) {
  if (v == null || v === '') return t('notEntered');
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && ('family' in v || 'given' in v)) return [v.family, v.given].filter(Boolean).join(' ');
  return JSON.stringify(v);
}

/** The review lines of an entry waiting for a person's decision: field, my value, current value. */
export function reviewLines(e) {
  return reviewConflicts(e).map((c) => el('p', { class: 'meta', text: t('reviewField', { field: fieldName(c.field), mine: showValue(c.mine), server: showValue(c.server) }) }));
}

export function notFound(view) { view.setPage(t('notFound')); view.main.append(el('p', {}, link('#/', t('toHome')))); }
export function failPage(view, text) { view.setPage(text); view.main.append(el('p', {}, link('#/', t('toHome')))); }
