// The resident app: routing, pages, drafts, the outbox and sign-in. Plain DOM, hash routes:
//   #/                 home (drafts, waiting and submitted applications, needs-info items)
//   #/find             procedure finder (search, browse by life event)
//   #/p/{id}           a procedure's overview (what to bring, fee) and "start"
//   #/d/{draft}/{n}    page n of a draft's form;  #/d/{draft}/review  check answers, then 送信
//   #/e/{event}        life-event navigator;       #/b/{bundle}  one combined form;  #/b/{bundle}/review
//   #/s/{id}           a submission (queued or received)
//   #/outbox           what this device still has to send, per item; export to a file
//   #/h, #/h/{id}      staff: household records (shared records, editable offline)
//   #/signin           passkeys
// Drafts, submissions and household records travel over the sync protocol (sync.js, docs/sync.md).

import { t, tx, setLang, initialLang, htmlLang, getLang } from './i18n.js';
import { store } from './db.js';
import {
  syncNow, syncSummary, commitDraft, deleteDraft, queueSubmission, migrateLegacyOutbox, exportOutbox, reviewConflicts, same, receiptState,
} from './sync.js';
import { migrateAnswers, newerVersion, firstSectionWith } from './migrate.js';
import { householdListPage, householdPage } from './households.js';
import { api, csrf, setCsrf, ApiError } from './api.js';
import { parseCreationOptions, parseRequestOptions, credentialToJSON, unwrapOptions } from './webauthn.js';
import { searchProcedures } from './finder.js';
import { accountPage } from './account.js';
import { visibleQuestions, applicableProcedures, mappedFields, copyShared, documentsFor, mergeDocuments, sharedSource, truthy, sharedFieldsFor, seedShared, mappedTargets } from './lifeevent.js';
import { renderFields, applyResult, el, domId, errorText } from './render.js';
import { evaluateForm } from './form.js';
import { evaluate, japanToday } from './expr.js';
import { memoizeShardLoader } from './postal.js';
import { toWareki } from './japan.js';
import { getPath, isShown, parsePath } from './paths.js';

const html = document.documentElement;
const main = document.getElementById('main');
const syncEl = document.getElementById('sync-status');
const retryBtn = document.getElementById('sync-retry');
const detailsLink = document.getElementById('sync-details');
const SESSION_KEY = 'madoguchi.session';
const ACTING_KEY = 'madoguchi.actingFor';

const state = {
  index: null,
  session: readJSON(SESSION_KEY) || { signed_in: false, account: null },
  procCache: new Map(),
  page: null, // cleanup hook of the current page
};

function readJSON(key) { try { return JSON.parse(localStorage.getItem(key)); } catch { return null; } }
function writeJSON(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* ignore */ } }
const today = () => (typeof japanToday === 'function' ? japanToday() : new Date().toISOString().slice(0, 10));
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)));

// ------------------------------------------------------------------------------------------ data

async function loadIndex() {
  if (!state.index) state.index = await (await fetch(html.dataset.index)).json();
  return state.index;
}

async function loadJSON(path) {
  if (!state.procCache.has(path)) {
    const p = fetch(path).then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); });
    p.catch(() => state.procCache.delete(path));
    state.procCache.set(path, p);
  }
  return state.procCache.get(path);
}

async function latestProcedure(id) {
  const index = await loadIndex();
  const entry = index.procedures[id];
  if (!entry) return null;
  const path = entry.versions[entry.latest];
  return { path, compiled: await loadJSON(path), entry };
}

const loadShard = memoizeShardLoader(async (prefix) => {
  const index = await loadIndex();
  if (!index.postal) return null;
  const r = await fetch(`${index.postal}${prefix}.json`);
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
});

function allFields(compiled) {
  return (compiled.sections || []).flatMap((s) => s.fields || []);
}

function evalForm(compiled, answers) {
  return evaluateForm(compiled, answers, { today: today() });
}

function sectionShown(section, answers) {
  if (!section.show_if) return true;
  try { return truthy(evaluate(section.show_if, answers, { today: today() })); } catch { return false; }
}

// ------------------------------------------------------------------------------------------ session

async function refreshSession() {
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

function renderAccount() {
  const a = document.getElementById('account-link');
  const acc = state.session && state.session.signed_in && state.session.account;
  a.textContent = acc ? t('signedInAs', { name: acc.display_name || '' }) : t('signin');
}

async function loadProfile() {
  if (!state.session.signed_in) return null;
  try {
    const p = await api('/api/me/profile');
    await store.setMeta('profile', p);
    return p;
  } catch { return (await store.getMeta('profile')) || null; }
}

function actingFor() { return readJSON(ACTING_KEY); }
function isStaff() { const r = state.session.account && state.session.account.role; return r === 'outreach' || r === 'counter'; }

// ------------------------------------------------------------------------------------------ sync and its status

function reasonText(reason) {
  if (reason === 'offline') return t('offline');
  if (reason === 'auth') return t('needSignin');
  if (reason === 'account') return t('otherAccount');
  if (reason === 'file') return t('fileFailed');
  return reason;
}

let lastSummary = null;
async function updateSync() {
  return renderSummary(await syncSummary(store));
}

function renderSummary(s) {
  lastSummary = s;
  syncEl.classList.toggle('is-failed', s.kind === 'failed');
  syncEl.textContent = s.kind === 'ok' ? t('allSent') : s.kind === 'failed' ? t('failed', { reason: reasonText(s.reason) }) : t('nWaiting', { n: s.count });
  retryBtn.hidden = s.kind === 'ok';
  retryBtn.textContent = t('retry');
  detailsLink.textContent = t('outboxLink');
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
    onPulled: (types) => { if (state.onPulled) state.onPulled(types); },
  };
}

let flushing = null;
let flushAgain = false;
let retryTimer = null;
/** Commit pending draft edits, then push, pull and upload (one sync at a time; a request during a run
 * makes one more run, so nothing queued meanwhile waits for the next trigger). */
async function flush(force = false) {
  if (flushing) { flushAgain = true; return flushing; }
  flushing = (async () => {
    let s = null;
    do {
      flushAgain = false;
      await flushCommits();
      try {
        if (!csrf() && navigator.onLine) await refreshSession();
        await syncNow(syncEnv(force));
      } catch (e) { console.error(e); }
      s = await updateSync();
      if (state.onOutbox) state.onOutbox();
    } while (flushAgain);
    scheduleRetry();
    return s;
  })();
  try { return await flushing; } finally { flushing = null; }
}

async function scheduleRetry() {
  clearTimeout(retryTimer);
  const [outbox, blobs, backoff] = await Promise.all([store.all('outbox'), store.all('blobs'), store.getMeta('backoff')]);
  const waiting = outbox.some((e) => e.state === 'waiting' || e.state === 'sending') || blobs.some((b) => b.queued && !b.uploaded && !b.failed);
  if (!waiting) return;
  const at = backoff && backoff.next_at ? backoff.next_at : Date.now() + 30000;
  retryTimer = setTimeout(() => flush(), Math.max(1000, at - Date.now()));
}

async function registerSync() {
  try {
    const reg = await navigator.serviceWorker.ready;
    if (reg.sync) await reg.sync.register('outbox');
  } catch { /* Background Sync unavailable: the page syncs on 'online' and at start */ }
}

// Draft edits are saved at once (IndexedDB) and committed to the outbox as one draft.patch per pause, on
// leaving the page and before sending: fewer mutations, and each carries what the user saw as its base.
const COMMIT_DELAY_MS = 1200;
const commitTimers = new Map();
function scheduleCommit(id) {
  clearTimeout(commitTimers.get(id));
  commitTimers.set(id, setTimeout(() => { commitTimers.delete(id); commitNow(id); }, COMMIT_DELAY_MS));
}
async function commitNow(id) {
  await saveChain;
  try {
    if (await commitDraft(store, id)) { updateSync(); flush(); }
  } catch (e) { console.error(e); }
}
async function flushCommits() {
  const ids = [...commitTimers.keys()];
  for (const id of ids) { clearTimeout(commitTimers.get(id)); commitTimers.delete(id); }
  await saveChain;
  for (const id of ids) await commitDraft(store, id).catch((e) => console.error(e));
  return ids.length;
}

/** The sha256 of every attachment referenced anywhere in the answers. */
function attachmentRefs(answers) {
  const out = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (typeof v.sha256 === 'string' && typeof v.size === 'number') out.add(v.sha256);
      else Object.values(v).forEach(walk);
    }
  };
  walk(answers);
  return [...out];
}

// ------------------------------------------------------------------------------------------ page helpers

function setPage(title, ...nodes) {
  if (state.page) { state.page(); state.page = null; }
  const h1 = el('h1', { id: 'page-title', tabindex: '-1', text: title });
  main.replaceChildren(h1, ...nodes);
  document.title = `${title} — ${t('app')}`;
  return h1;
}

function focusTitle() {
  const h = document.getElementById('page-title');
  if (h) h.focus({ preventScroll: false });
}

function link(href, text, cls) { return el('a', { href, class: cls || null, text }); }

function statusBadge(status) {
  const cls = { accepted: 'badge-ok', completed: 'badge-ok', needs_info: 'badge-warn', rejected: 'badge-err' }[status] || '';
  return el('span', { class: `badge ${cls}`, text: t(`status_${status}`) });
}

function errorSummary(errors, onLink) {
  const box = el('div', { class: 'error-summary', tabindex: '-1', id: 'error-summary' });
  const inner = el('div', { role: 'alert' });
  inner.append(el('h2', { text: t('errorsTitle', { n: errors.length }) }));
  const ul = el('ul', {});
  for (const e of errors) {
    const a = el('a', { href: `#${e.target}`, text: e.text });
    a.addEventListener('click', (ev) => { ev.preventDefault(); onLink(e); });
    ul.append(el('li', {}, a));
  }
  inner.append(ul);
  box.append(inner);
  box.addEventListener('blur', () => box.removeAttribute('tabindex'), { once: true });
  return box;
}

function focusField(id) {
  const input = document.getElementById(id);
  if (!input) return;
  const holder = input.closest('fieldset, .field');
  const label = holder && (holder.querySelector('legend, label'));
  (label || input).scrollIntoView({ block: 'start' });
  input.focus({ preventScroll: true });
}

/** The field's label for messages, with the item of a repeat group: 「異動者 1 フリガナ」. */
function fieldLabelAt(compiled, path) {
  const keys = parsePath(path);
  let fields = allFields(compiled);
  let group = null;
  const out = [];
  for (const k of keys) {
    if (typeof k === 'number') {
      if (group) out.push(`${tx(group.item_label) || tx(group.label)} ${k + 1}`);
      continue;
    }
    const f = (fields || []).find((x) => x.id === k);
    if (!f) return out.length ? out.join(' ') : path;
    if (f.type === 'group') { group = f; fields = f.fields; } else { out.push(tx(f.label)); fields = f.fields; }
  }
  if (!out.length && group) out.push(tx(group.label));
  return out.join(' ');
}

/** One error line, the same words in the summary and under the field: 「氏名：入力してください。」 */
function errorLine(compiled, err) {
  return t('errorLine', { label: fieldLabelAt(compiled, err.path), msg: errorText(err) });
}

// ------------------------------------------------------------------------------------------ pages

async function homePage() {
  const h1 = setPage(t('homeTitle'));
  const acting = actingFor();
  if (state.session.signed_in && isStaff()) {
    main.append(await residentPicker());
    main.append(el('p', {}, link('#/h', t('households'), 'btn btn-secondary')));
  }
  main.append(el('div', { class: 'actions' }, link('#/find', t('findCta'), 'btn'), link('#/find#events', t('eventsCta'), 'btn btn-secondary')));
  const [allDrafts, outbox, attention, cached] = await Promise.all([store.all('drafts'), store.all('outbox'), store.all('attention'), store.all('submissions')]);
  let server = null;
  if (state.session.signed_in && navigator.onLine) {
    try {
      server = await api('/api/submissions');
      for (const s of server) await store.put('submissions', { ...(cached.find((c) => c.id === s.id) || {}), ...s });
    } catch { server = null; }
  }
  const submissions = server ? await store.all('submissions') : cached;
  const titleOf = (id, fallback) => (state.index && state.index.procedures[id] ? tx(state.index.procedures[id].title) : fallback || id);

  const needs = submissions.filter((s) => s.status === 'needs_info');
  if (needs.length) {
    main.append(el('h2', { text: t('needsInfo') }));
    main.append(el('ul', { class: 'cards' }, needs.map((s) => el('li', { class: 'card' },
      el('p', { class: 'card-link', text: titleOf(s.procedure_id, s.title) }), el('p', {}, `${t('receiptNo')}: ${s.receipt_number} `, statusBadge(s.status))))));
  }
  // Changes of mine that a person has to decide (docs/sync.md, conflict review).
  const review = [...outbox, ...attention].filter((e) => e.state === 'needs_review');
  if (review.length) {
    main.append(el('h2', { text: t('waitingReview') }), el('p', { class: 'hint', text: t('reviewWaitText') }));
    main.append(el('ul', { class: 'cards', id: 'review-items' }, review.map((e) => el('li', { class: 'card' },
      el('p', { class: 'card-link', text: entryTitle(e) }), el('p', {}, el('span', { class: 'badge badge-warn', text: t('item_needs_review') })),
      ...reviewConflicts(e).map((c) => el('p', { class: 'meta', text: t('reviewField', { field: fieldName(c.field), mine: showValue(c.mine), server: showValue(c.server) }) }))))));
  }
  main.append(el('h2', { text: t('drafts') }));
  const drafts = allDrafts.filter((d) => !d.submitted_as);
  // A life event's combined form is one card; the procedures' drafts inside it are not listed apart.
  const mine = drafts.filter((d) => d.kind === 'bundle' || !d.bundle_id || !drafts.some((x) => x.id === d.bundle_id));
  if (!mine.length) main.append(el('p', { text: t('noDrafts') }));
  else {
    main.append(el('ul', { class: 'cards', id: 'draft-cards' }, mine.sort((a, b) => b.updated_at - a.updated_at).map((d) => {
      const del = el('button', { type: 'button', class: 'btn-link', text: t('deleteDraft') });
      del.append(el('span', { class: 'visually-hidden', text: `：${tx(d.title)}` }));
      del.addEventListener('click', async () => {
        for (const id of d.kind === 'bundle' ? d.drafts || [] : []) await deleteDraft(store, id);
        await deleteDraft(store, d.id);
        flush();
        route();
      });
      return el('li', { class: 'card', 'data-draft': d.id },
        link(d.kind === 'bundle' ? `#/b/${d.id}` : `#/d/${d.id}/0`, tx(d.title) || d.procedure_id, 'card-link'),
        d.on_behalf_name ? el('p', { class: 'meta', text: t('onBehalfOf', { name: d.on_behalf_name }) }) : null,
        d.error ? el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }) : null,
        el('p', { class: 'meta', text: `${t('updated')}: ${new Date(d.updated_at).toLocaleString(htmlLang() === 'en' ? 'en' : 'ja-JP')}` }), del);
    })));
  }
  main.append(el('h2', { text: t('submitted') }));
  const subEntries = [...outbox, ...attention].filter((e) => e.type === 'submission');
  const sent = new Map(submissions.filter((s) => s.receipt_number).map((s) => [s.id, s]));
  const waiting = subEntries.filter((e) => !sent.has(e.rid) && (e.state === 'waiting' || e.state === 'sending' || e.state === 'failed'));
  if (!waiting.length && !sent.size) main.append(el('p', { text: t('noSubmitted') }));
  else {
    main.append(el('ul', { class: 'cards' },
      waiting.map((e) => el('li', { class: 'card' }, link(`#/s/${e.rid}`, titleOf(e.label && e.label.procedure_id, tx(e.label && e.label.title)), 'card-link'),
        el('p', {}, e.state === 'failed' ? el('span', { class: 'badge badge-err', text: itemStateText(e) }) : statusBadge('pending')))),
      [...sent.values()].sort((a, b) => String(b.received_at).localeCompare(String(a.received_at))).map((s) => el('li', { class: 'card' },
        link(`#/s/${s.id}`, titleOf(s.procedure_id, tx(s.title)), 'card-link'),
        el('p', {}, `${t('receiptNo')}: `, el('strong', { text: s.receipt_number || '' }), ' ', statusBadge(s.status || 'received'))))));
  }
  if (acting) h1.after(el('p', { class: 'notice', text: t('onBehalfOf', { name: acting.name }) }));
  state.onOutbox = () => { if (location.hash === '' || location.hash === '#/') homePageRefresh(); };
  state.onPulled = () => { if (location.hash === '' || location.hash === '#/') homePageRefresh(); };
}
let refreshTimer = null;
function homePageRefresh() { clearTimeout(refreshTimer); refreshTimer = setTimeout(() => route(false), 100); }

async function residentPicker() {
  let residents = (await store.getMeta('residents')) || [];
  let note = null;
  try {
    residents = await api('/api/outreach/residents');
    await store.setMeta('residents', residents);
  } catch { note = el('p', { class: 'hint', text: t('residentsUnavailable') }); }
  const sel = el('select', { id: 'acting-for' });
  sel.append(el('option', { value: '', text: t('noResident') }));
  const cur = actingFor();
  for (const r of residents) sel.append(el('option', { value: r.id, text: `${r.name || r.id}${r.address ? `（${r.address}）` : ''}`, selected: cur && cur.id === r.id }));
  sel.addEventListener('change', () => {
    const r = residents.find((x) => String(x.id) === sel.value);
    writeJSON(ACTING_KEY, r ? { id: r.id, name: r.name || String(r.id) } : null);
    route(false);
  });
  return el('div', { class: 'field' }, el('label', { for: 'acting-for', text: t('pickResident') }), note, sel);
}

async function finderPage(query) {
  const index = await loadIndex();
  const q = query || '';
  setPage(t('finderTitle'));
  const input = el('input', { id: 'q', type: 'search', name: 'q', value: q, 'aria-describedby': 'q-hint', autocomplete: 'off' });
  const form = el('form', { class: 'search', role: 'search', novalidate: true },
    el('div', { class: 'field' }, el('label', { for: 'q', text: t('searchLabel') }), el('p', { class: 'hint', id: 'q-hint', text: t('searchHint') }), input),
    el('button', { type: 'submit', class: 'btn btn-small', text: t('search') }));
  const results = el('div', { id: 'results' });
  const draw = () => {
    const found = searchProcedures(index, input.value);
    const filtered = isStaff() ? found : found.filter((p) => !p.filers || p.filers.includes('resident'));
    results.replaceChildren(el('h2', { text: input.value.trim() ? t('results') : t('allProcedures') }),
      filtered.length ? el('ul', { class: 'cards' }, filtered.map((p) => el('li', { class: 'card' },
        link(`#/p/${p.id}`, tx(p.title), 'card-link'), p.description ? el('p', { text: tx(p.description) }) : null,
        p.department ? el('p', { class: 'meta', text: `${t('department')}: ${tx(p.department)}` }) : null)))
        : el('p', { text: t('noResults') }));
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); history.replaceState(null, '', `#/find?q=${encodeURIComponent(input.value)}`); draw(); });
  input.addEventListener('input', draw);
  const events = Object.entries(index.life_events || {});
  main.append(form, results, el('h2', { id: 'events', text: t('lifeEvents') }),
    el('ul', { class: 'cards' }, events.map(([id, e]) => el('li', { class: 'card' }, link(`#/e/${id}`, tx(e.title), 'card-link'), e.description ? el('p', { text: tx(e.description) }) : null))));
  draw();
}

async function procedurePage(id) {
  const p = await latestProcedure(id);
  if (!p) return notFound();
  const c = p.compiled;
  setPage(tx(c.title));
  if (c.description) main.append(el('p', { text: tx(c.description) }));
  main.append(el('p', { class: 'meta', text: `${t('department')}: ${tx(c.department && c.department.name)}` }));
  if (c.fee) main.append(el('p', { class: 'fee', text: `${t('fee')}: ${c.fee.amount}円${c.fee.per ? ` / ${tx(c.fee.per)}` : ''}` }));
  if (c.deadline) main.append(el('p', {}, `${t('deadline')}: ${tx(c.deadline)}`));
  if ((c.documents || []).length) {
    main.append(el('h2', { text: t('documents') }), el('ul', {}, c.documents.map((d) => el('li', {}, tx(d.label), d.note ? el('span', { class: 'meta', text: `（${tx(d.note)}）` }) : null))));
  }
  const acting = actingFor();
  if (acting) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: acting.name }) }));
  const start = el('button', { type: 'button', class: 'btn', text: t('start') });
  start.addEventListener('click', async () => {
    const d = await newDraft(p);
    location.hash = `#/d/${d.id}/0`;
  });
  main.append(el('div', { class: 'actions' }, start, link('#/find', t('back'), 'btn-link')));
}

/** A new draft: its idempotency key (the submission id) is created now, with the draft. */
async function newDraft(p, extra = {}) {
  const c = p.compiled;
  const acting = isStaff() ? actingFor() : null;
  const answers = {};
  const prefilled = [];
  const locked = [];
  const profile = !acting && state.session.signed_in ? await loadProfile() : null;
  if (profile && profile.verified && profile.profile) {
    for (const f of allFields(c)) {
      if (f.prefill && profile.profile[f.prefill] != null && profile.profile[f.prefill] !== '') {
        answers[f.id] = structuredClone(profile.profile[f.prefill]);
        prefilled.push(f.id);
        if (f.prefill_editable === false) locked.push(f.id);
      }
    }
  }
  const now = Date.now();
  const d = {
    id: uuid(), kind: 'draft', submission_id: uuid(), procedure_id: c.id, procedure_version: c.version, procedure_path: p.path,
    title: c.title, answers, retired: {}, raw: {}, prefilled, locked, typed: [], opened_at: new Date(now).toISOString(), updated_at: now,
    on_behalf_of: acting ? acting.id : null, on_behalf_name: acting ? acting.name : null, seen: {}, ...extra,
  };
  await store.put('drafts', d);
  scheduleCommit(d.id); // the draft record exists on the server (and the user's other devices) from now on
  return d;
}

// The page holds its draft in memory; a save writes only the answers it changed since its last save (so a
// change pulled from another device meanwhile is not overwritten) plus the device-only parts.
const LOCAL_FIELDS = ['raw', 'prefilled', 'locked', 'typed', 'autofilled', 'updated_at', 'procedure_path', 'migration'];
const snapshots = new WeakMap();
const answersKey = (d) => (d.kind === 'bundle' ? 'shared' : 'answers');
function snapshot(d) { snapshots.set(d, structuredClone(d[answersKey(d)] || {})); }

let saveChain = Promise.resolve();
function saveDraft(d, { full = false } = {}) {
  d.updated_at = Date.now();
  const key = answersKey(d);
  const cur = d[key] || {};
  const prev = full ? null : snapshots.get(d);
  const changed = prev ? [...new Set([...Object.keys(cur), ...Object.keys(prev)])].filter((k) => !same(cur[k], prev[k])) : null;
  const copy = structuredClone(d);
  snapshots.set(d, structuredClone(cur));
  saveChain = saveChain.then(() => store.tx(['drafts'], 'readwrite', async (tr) => {
    const stored = await tr.get('drafts', d.id);
    if (!stored || changed === null) {
      await tr.put('drafts', { ...copy, seen: stored ? stored.seen : copy.seen || {}, submitted_as: stored ? stored.submitted_as : null });
      return;
    }
    const target = stored[key] || (stored[key] = {});
    for (const k of changed) {
      if (copy[key][k] === undefined) delete target[k];
      else target[k] = copy[key][k];
    }
    for (const f of LOCAL_FIELDS) if (copy[f] !== undefined) stored[f] = copy[f];
    await tr.put('drafts', stored);
  })).catch((e) => console.error(e));
  scheduleCommit(d.id);
  return saveChain;
}

function makeCtx(scope, d, compiled, onAnyChange, { save = () => saveDraft(d) } = {}) {
  const ctx = {
    scope, answers: d.answers, raw: d.raw || (d.raw = {}), prefilled: new Set(d.prefilled || []), locked: new Set(d.locked || []),
    // Address parts filled by a postal lookup (and not edited since) may be replaced by the next lookup;
    // kept with the draft so that this still holds after a reload.
    touched: new Set(), autofilled: new Set(d.autofilled || []), loadShard,
    requiredNow: (path) => {
      const f = allFields(compiled).find((x) => x.id === parsePath(path)[0]);
      if (!f || !f.required_if) return false;
      try { return truthy(evaluate(f.required_if, d.answers, { today: today() })); } catch { return false; }
    },
    choicesFor: (field, path) => {
      const choices = field.choices || [];
      if (!field.choice_filter) return choices;
      let v;
      try {
        const parts = parsePath(path);
        const item = parts.length > 1 ? getPath(d.answers, parts.slice(0, -1).map((k) => (typeof k === 'number' ? `[${k}]` : k)).join('.').replace(/\.\[/g, '[')) : null;
        v = evaluate(field.choice_filter, d.answers, { item, today: today() });
      } catch { v = null; }
      return choices.filter((c) => c.filter == null || c.filter === v || (Array.isArray(v) && v.includes(c.filter)));
    },
    linkedPostal: (addressId) => allFields(compiled).some((f) => f.type === 'postal_code' && f.address_field === addressId),
    saveBlob: async (file) => {
      const buf = await file.arrayBuffer();
      const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
      await store.put('blobs', { sha256: hash, blob: new Blob([buf], { type: file.type }), type: file.type, name: file.name, uploaded: false });
      return { sha256: hash, name: file.name, size: file.size, type: file.type };
    },
    onChange: (path, info) => {
      const top = String(parsePath(path)[0]);
      if (info.typed && !d.typed.includes(top)) d.typed.push(top);
      // A postal code field belongs to its address field: keep the address's postal_code in step.
      for (const f of allFields(compiled)) {
        if (f.type !== 'postal_code' || !f.address_field || (top !== f.id && top !== f.address_field)) continue;
        const code = d.answers[f.id];
        const addr = d.answers[f.address_field];
        if (typeof code === 'string' && code) d.answers[f.address_field] = { ...(addr && typeof addr === 'object' ? addr : {}), postal_code: code };
        else if (addr && typeof addr === 'object') delete addr.postal_code;
      }
      d.autofilled = [...ctx.autofilled];
      save();
      onAnyChange(path, info);
    },
  };
  return ctx;
}

function visibleSections(compiled, answers) {
  return (compiled.sections || []).map((s, i) => ({ s, i })).filter(({ s }) => sectionShown(s, answers));
}

function steps(current) {
  return el('ol', { class: 'steps', 'aria-label': `${t('stepInput')} → ${t('stepReview')} → ${t('stepDone')}` },
    ['stepInput', 'stepReview', 'stepDone'].map((k, i) => el('li', { 'aria-current': i === current ? 'step' : null, text: `${i + 1}. ${t(k)}` })));
}

/**
 * Open a draft: find its procedure file (a draft from another device has no path yet), and move it to a
 * newer published version (answers kept, removed fields kept aside, new required fields asked).
 */
async function openDraft(draftId) {
  const d = await store.get('drafts', draftId);
  if (!d || d.kind !== 'draft' || d.submitted_as) return null;
  const index = await loadIndex();
  const entry = index.procedures[d.procedure_id];
  if (!d.procedure_path && entry && entry.versions[d.procedure_version]) d.procedure_path = entry.versions[d.procedure_version];
  let compiled = await loadJSON(d.procedure_path);
  const to = newerVersion(index, d.procedure_id, d.procedure_version);
  if (to) {
    const next = await loadJSON(entry.versions[to]).catch(() => null);
    if (next) {
      const isRequired = (f, answers) => f.required === true || (f.required_if ? truthy(safeEval(f.required_if, answers)) : false);
      const m = migrateAnswers({ from: compiled, to: next, answers: d.answers, retired: d.retired || {}, isRequired });
      d.migration = { from: d.procedure_version, to, ask: m.ask };
      Object.assign(d, { procedure_version: to, procedure_path: entry.versions[to], answers: m.answers, retired: m.retired });
      compiled = next;
      await saveDraft(d, { full: true }); // committed as an ordinary draft.patch of procedure_version
    }
  } else {
    // Answers of fields this version does not have are kept aside (the form would call them unknown).
    const known = new Set(allFields(compiled).map((f) => f.id));
    for (const k of Object.keys(d.answers || {})) if (!known.has(k)) { d.retired = { ...(d.retired || {}), [k]: d.answers[k] }; delete d.answers[k]; }
  }
  snapshot(d);
  return { d, compiled };
}

function safeEval(expr, answers) {
  try { return evaluate(expr, answers, { today: today() }); } catch { return null; }
}

function migrationNotice(d, compiled) {
  if (!d.migration) return null;
  const ask = (d.migration.ask || []).map((id) => fieldLabelAt(compiled, id)).filter(Boolean);
  return el('div', { class: 'notice', id: 'migration-notice' }, el('p', { text: t('migrated', { from: d.migration.from, to: d.migration.to }) }),
    ask.length ? el('p', { text: t('migratedAsk', { fields: ask.join('、') }) }) : null);
}

async function draftPage(draftId, n) {
  let opened;
  try { opened = await openDraft(draftId); } catch { return failPage(t('procedureMissing')); }
  if (!opened) return notFound();
  const { d, compiled } = opened;
  if (d.migration && d.migration.ask && d.migration.ask.length && !d.migration.shown) {
    // Straight to the first page with a newly required field; answers already given stay.
    d.migration.shown = true;
    await saveDraft(d);
    const sec = firstSectionWith(compiled, d.migration.ask);
    if (sec >= 0 && sec !== n) { location.hash = `#/d/${d.id}/${sec}`; return; }
  }
  const secs = visibleSections(compiled, d.answers);
  const idx = Math.max(0, secs.findIndex(({ i }) => i === n));
  const { s: section, i: secIndex } = secs[idx] || secs[0];
  setPage(tx(compiled.title));
  const h1 = document.getElementById('page-title');
  h1.before(steps(0));
  if (d.on_behalf_name) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: d.on_behalf_name }) }));
  if (d.error) main.append(el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }));
  const mig = migrationNotice(d, compiled);
  if (mig) main.append(mig);
  const form = el('form', { novalidate: true, id: 'form' });
  state.onPulled = async (types) => {
    // A change from the user's other device: redraw with it unless they are typing here right now.
    if (!types.has('draft')) return;
    const cur = await store.get('drafts', d.id);
    if (cur && same(cur.answers, d.answers) && cur.procedure_version === d.procedure_version) return;
    const typing = document.activeElement && document.activeElement.matches('input, textarea, select');
    if (!typing && !commitTimers.has(d.id) && location.hash.startsWith(`#/d/${d.id}/`)) route(false);
  };
  const summaryHolder = el('div', {});
  form.append(summaryHolder, el('h2', { text: `${tx(section.title)}（${t('section', { n: idx + 1, total: secs.length })}）` }));
  if (section.help) form.append(el('p', { class: 'hint', text: tx(section.help) }));
  const fieldsBox = el('div', {});
  form.append(fieldsBox);
  let result = null;
  let showAll = false;
  const ctx = makeCtx('f', d, compiled, (path, info) => {
    result = evalForm(compiled, d.answers);
    if (info.rerender) drawFields();
    else applyResult(fieldsBox, result, ctx, { showAll });
  });
  const drawFields = () => {
    fieldsBox.replaceChildren();
    renderFields(fieldsBox, section.fields || [], ctx);
    result = evalForm(compiled, d.answers);
    applyResult(fieldsBox, result, ctx, { showAll });
  };
  drawFields();
  const next = el('button', { type: 'submit', class: 'btn', text: idx === secs.length - 1 ? t('toReview') : t('next') });
  const backHref = idx === 0 ? `#/p/${d.procedure_id}` : `#/d/${d.id}/${secs[idx - 1].i}`;
  form.append(el('div', { class: 'actions' }, next, link(backHref, t('back'), 'btn-link')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    normalizeFocused();
    result = evalForm(compiled, d.answers);
    const ids = new Set((section.fields || []).map((f) => f.id));
    const errs = (result.errors || []).filter((er) => ids.has(String(parsePath(er.path)[0])) && isShown(result, er.path));
    showAll = true;
    applyResult(fieldsBox, result, ctx, { showAll });
    if (errs.length) {
      const items = dedupe(errs).map((er) => ({ target: domId('f', er.path), text: errorLine(compiled, er) }));
      summaryHolder.replaceChildren(errorSummary(items, (it) => focusField(it.target)));
      document.title = `${t('errorPrefix')}${tx(compiled.title)} — ${t('app')}`;
      document.getElementById('error-summary').focus();
      return;
    }
    await saveChain;
    const after = visibleSections(compiled, d.answers);
    const pos = after.findIndex(({ i }) => i === secIndex);
    location.hash = pos < after.length - 1 ? `#/d/${d.id}/${after[pos + 1].i}` : `#/d/${d.id}/review`;
  });
  main.append(form);
}

/** Enter in a field submits without a blur: run the field's blur normalisation (kana, digits) first. */
function normalizeFocused() {
  const a = document.activeElement;
  if (a && a.matches && a.matches('input, textarea')) a.dispatchEvent(new Event('blur'));
}

function dedupe(errors) {
  const seen = new Set();
  return errors.filter((e) => (seen.has(e.path) ? false : seen.add(e.path)));
}

function formatValue(field, v) {
  if (v == null || v === '' || (Array.isArray(v) && !v.length)) return t('notEntered');
  const choice = (x) => { const c = (field.choices || []).find((cc) => cc.value === x); return c ? tx(c.label) : String(x); };
  switch (field.type) {
    case 'yesno': return v ? t('yes') : t('no');
    case 'choice': return choice(v);
    case 'multichoice': return v.map(choice).join('、');
    case 'name': case 'kana': return typeof v === 'string' ? v : [v.family, v.given].filter(Boolean).join(' ');
    case 'address': return [v.postal_code ? `〒${v.postal_code.slice(0, 3)}-${v.postal_code.slice(3)}` : '', `${v.prefecture || ''}${v.city || ''}${v.town || ''}${v.block || ''}`, v.building || ''].filter(Boolean).join('\n');
    case 'postal_code': return /^\d{7}$/.test(v) ? `〒${v.slice(0, 3)}-${v.slice(3)}` : String(v);
    case 'date': case 'wareki': return formatDate(v, field.type === 'wareki');
    case 'attachment': return v.map((f) => f.name).join('、');
    case 'number': return `${v}${field.unit ? ` ${tx(field.unit)}` : ''}`;
    case 'group': return v.map((item, i) => `${i + 1}. ${(field.fields || []).filter((f) => item[f.id] != null).map((f) => `${tx(f.label)}: ${formatValue(f, item[f.id])}`).join(' / ')}`).join('\n');
    default: return String(v);
  }
}

/** 2019-05-01 -> 2019年5月1日（令和元年5月1日） in Japanese; ISO stays for English (unambiguous). */
function formatDate(v, wareki) {
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(String(v));
  if (!m || htmlLang() === 'en') return String(v);
  const text = `${m[1]}年${m[2] ? `${Number(m[2])}月` : ''}${m[3] ? `${Number(m[3])}日` : ''}`;
  if (!wareki || !m[3]) return text;
  try { return `${text}（${toWareki(v)}）`; } catch { return text; }
}

function reviewList(compiled, answers, result, changeHref, hide = new Set()) {
  const out = [];
  for (const { s, i } of visibleSections(compiled, answers)) {
    const rows = [];
    for (const f of s.fields || []) {
      if (f.type === 'notice' || hide.has(f.id) || !isShown(result, f.id)) continue;
      let v = f.calculate ? valueOf(result, f.id) : answers[f.id];
      const change = f.calculate ? null : el('a', { href: changeHref(i), class: 'btn-link' }, t('change'), el('span', { class: 'visually-hidden', text: `：${tx(f.label)}` }));
      rows.push(el('div', {}, el('dt', { text: tx(f.label) }), el('dd', { text: formatValue(f, v) }), change ? el('dd', {}, change) : null));
    }
    if (rows.length) out.push(el('h3', { text: tx(s.title) }), el('dl', { class: 'review' }, rows));
  }
  return out;
}

function valueOf(result, id) {
  const v = result.values;
  if (!v) return undefined;
  return v instanceof Map ? v.get(id) : v[id];
}

async function reviewPage(draftId) {
  let opened;
  try { opened = await openDraft(draftId); } catch { return failPage(t('procedureMissing')); }
  if (!opened) return notFound();
  const { d, compiled } = opened;
  const result = evalForm(compiled, d.answers);
  setPage(t('reviewTitle'));
  document.getElementById('page-title').before(steps(1));
  main.append(el('p', { class: 'meta', text: tx(compiled.title) }));
  if (d.on_behalf_name) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: d.on_behalf_name }) }));
  if (d.error) main.append(el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }));
  const summaryHolder = el('div', {});
  main.append(summaryHolder, ...reviewList(compiled, d.answers, result, (i) => `#/d/${d.id}/${i}`));
  main.append(...feeAndDocs(compiled, d.answers, result));
  main.append(el('p', { class: 'notice', text: t('reviewNote') }));
  const submit = el('button', { type: 'button', class: 'btn', id: 'submit', text: t('submit') });
  submit.addEventListener('click', async () => {
    const r = evalForm(compiled, d.answers);
    if (!r.valid) {
      const items = dedupe(r.errors).filter((e) => isShown(r, e.path)).map((e) => {
        const sec = (compiled.sections || []).findIndex((s) => (s.fields || []).some((f) => f.id === String(parsePath(e.path)[0])));
        return { target: `#/d/${d.id}/${sec}`, text: errorLine(compiled, e) };
      });
      summaryHolder.replaceChildren(errorSummary(items, (it) => { location.hash = it.target; }));
      document.getElementById('error-summary').focus();
      return;
    }
    submit.disabled = true;
    const id = await queueDraft(d, compiled);
    location.hash = `#/s/${id}`;
  });
  main.append(el('div', { class: 'actions' }, submit, link(`#/d/${d.id}/${(visibleSections(compiled, d.answers).slice(-1)[0] || { i: 0 }).i}`, t('back'), 'btn-link')));
}

function feeAndDocs(compiled, answers, result) {
  const out = [];
  if (compiled.fee) {
    const q = compiled.fee.quantity_field ? Number(answers[compiled.fee.quantity_field] ?? valueOf(result, compiled.fee.quantity_field) ?? 1) : 1;
    out.push(el('p', { class: 'fee', text: t('feeTotal', { n: compiled.fee.amount * (Number.isFinite(q) ? q : 1) }) }));
  }
  const docs = documentsFor(compiled, answers, evaluate, today());
  if (docs.length) out.push(el('h2', { text: t('documents') }), el('ul', {}, docs.map((x) => el('li', { text: tx(x.label) }))));
  return out;
}

/**
 * Send a finished draft: its pending edits are committed, then one `submission.create` under the id made
 * with the draft (exactly once, whichever device sends it) and its files on their own queue. The draft is
 * hidden until the receipt, then deleted on every device; a rejection brings it back with the reason.
 */
async function queueDraft(d, compiled, { sharedTyped = [], flushNow = true } = {}) {
  await flushCommits();
  await commitDraft(store, d.id);
  const result = evalForm(compiled, d.answers);
  // Send only what is shown: hidden fields' values are not part of the application.
  const known = new Set(allFields(compiled).map((f) => f.id));
  const answers = {};
  for (const [k, v] of Object.entries(d.answers)) if (known.has(k) && isShown(result, k)) answers[k] = v;
  // Fields typed once in a life event's shared part count as typed for every procedure they feed.
  const typed = [...new Set([...(d.typed || []), ...sharedTyped])].filter((k) => answers[k] !== undefined);
  const files = attachmentRefs(answers);
  const submission = {
    procedure_id: d.procedure_id, procedure_version: d.procedure_version, answers, attachments: files,
    // Completion-time telemetry rides in the submission (stored once, when it is created). The time is
    // when the user pressed 送信, so retries stay byte-identical.
    telemetry: {
      procedure_id: d.procedure_id, procedure_version: d.procedure_version, opened_at: d.opened_at, acknowledged_at: new Date().toISOString(),
      fields_typed: typed.length, fields_prefilled: (d.prefilled || []).filter((k) => !typed.includes(k) && answers[k] !== undefined).length,
    },
  };
  if (d.on_behalf_of) submission.on_behalf_of = d.on_behalf_of;
  const sid = d.submission_id || uuid();
  await queueSubmission(store, { submission_id: sid, submission, label: { kind: 'submission', title: d.title, procedure_id: d.procedure_id }, draft_id: d.id, blobs: files });
  if (flushNow) {
    await updateSync();
    registerSync();
    flush();
  }
  return sid;
}

/** The outbox entry (or attention item) of a submission, its receipt and its files. */
async function submissionState(id) {
  return store.tx(['outbox', 'attention', 'submissions', 'blobs', 'drafts'], 'readonly', async (tr) => {
    const entries = [...(await tr.all('outbox')), ...(await tr.all('attention'))].filter((e) => e.type === 'submission' && e.rid === id);
    const entry = entries.sort((a, b) => b.seq - a.seq)[0] || null;
    const receipt = await tr.get('submissions', id);
    const files = (await tr.all('blobs')).filter((b) => (b.owners || []).includes(id));
    const draft = (await tr.all('drafts')).find((x) => x.submission_id === id && !x.submitted_as) || null;
    return { entry, receipt, files, draft };
  });
}

function itemStateText(entry) {
  if (!entry) return '';
  if (entry.state === 'failed') return t('failed', { reason: reasonText(entry.message || entry.reason) });
  return t(`item_${entry.state}`);
}

async function submissionPage(id) {
  const { entry, receipt, files, draft } = await submissionState(id);
  const sent = Boolean(receipt && receipt.receipt_number);
  const failed = entry && entry.state === 'failed';
  setPage(sent ? t('doneTitle') : failed ? t('sendFailedTitle') : t('queuedTitle'));
  document.getElementById('page-title').before(steps(2));
  const title = (entry && entry.label && entry.label.title) || (receipt && receipt.title);
  if (title) main.append(el('p', { class: 'meta', text: tx(title) }));
  if (sent) {
    main.append(el('p', { class: 'receipt' }, `${t('receiptNo')}: `, el('span', { id: 'receipt-number', text: receipt.receipt_number })),
      el('p', {}, statusBadge(receipt.status || 'received')), el('p', { text: t('doneNext') }));
  } else if (failed) {
    main.append(el('p', { class: 'error-text', id: 'item-state', text: itemStateText(entry) }));
    if (draft) main.append(el('p', {}, link(`#/d/${draft.id}/review`, t('fixAndResend'), 'btn')));
  } else {
    main.append(el('p', { text: t('queuedText') }), el('p', { id: 'item-state', class: 'meta', text: itemStateText(entry) }));
  }
  const waitingFiles = files.filter((f) => f.queued && !f.uploaded);
  if (waitingFiles.length) {
    main.append(el('p', { class: 'meta', id: 'files-state', text: waitingFiles.some((f) => f.failed) ? t('fileFailed') : t('filesUploading', { done: files.length - waitingFiles.length, total: files.length }) }));
  }
  const meta = await store.getMeta('needs_signin');
  if (!sent && meta) main.append(el('p', {}, link('#/signin', t('signin'))));
  main.append(el('div', { class: 'actions' }, link('#/', t('toHome'), 'btn btn-secondary')));
  const sig = (x) => JSON.stringify([x.entry && x.entry.state, Boolean(x.receipt && x.receipt.receipt_number), x.files.filter((f) => f.uploaded).length]);
  const shownSig = sig({ entry, receipt, files });
  state.onOutbox = async () => {
    if (location.hash !== `#/s/${id}`) return;
    if (sig(await submissionState(id)) !== shownSig) route(false);
  };
}

// ------------------------------------------------------------------------------------------ outbox (per item)

function entryTitle(e) {
  const l = e.label || {};
  const title = l.title ? tx(l.title) : '';
  return `${t(`kind_${l.kind || e.type}`)}${title ? `：${title}` : ''}`;
}

async function outboxPage() {
  setPage(t('outboxTitle'));
  const [entries, attention] = await Promise.all([store.all('outbox'), store.all('attention')]);
  const all = [...entries, ...attention].sort((a, b) => a.seq - b.seq);
  if (!all.length) main.append(el('p', { text: t('outboxEmpty') }));
  else {
    main.append(el('ul', { class: 'cards', id: 'outbox-items' }, all.map((e) => {
      const li = el('li', { class: 'card', 'data-state': e.state, 'data-kind': e.kind },
        el('p', { class: 'card-link', text: entryTitle(e) }),
        el('p', { class: e.state === 'failed' ? 'error-text' : 'meta', text: itemStateText(e) }));
      for (const c of e.state === 'needs_review' ? reviewConflicts(e) : []) {
        li.append(el('p', { class: 'meta', text: t('reviewField', { field: fieldName(c.field), mine: showValue(c.mine), server: showValue(c.server) }) }));
      }
      if (e.state === 'failed') {
        const b = el('button', { type: 'button', class: 'btn-link', text: t('dismiss') });
        b.addEventListener('click', async () => {
          await store.tx(['outbox', 'attention'], 'readwrite', async (tr) => { await tr.delete('outbox', e.id); await tr.delete('attention', e.id); });
          await updateSync();
          route(false);
        });
        li.append(b);
      }
      return li;
    })));
  }
  // Last resort: the user keeps a copy of everything queued and shows it to staff.
  const exp = el('button', { type: 'button', class: 'btn btn-secondary', id: 'export-outbox', text: t('exportOutbox') });
  exp.addEventListener('click', async () => {
    const json = await exportOutbox(store);
    const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
    const a = el('a', { href: url, download: `madoguchi-outbox-${new Date().toISOString().slice(0, 10)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  main.append(el('h2', { text: t('exportTitle') }), el('p', { class: 'hint', text: t('exportHint') }), el('div', { class: 'actions' }, exp));
  state.onOutbox = () => { if (location.hash === '#/outbox') homePageRefresh(); };
}

/** A synced field's name for people (household and resident fields have UI names; answers use their id). */
function fieldName(f) {
  const key = `field_${String(f).split('[')[0]}`;
  const label = t(key);
  return label === key ? f : label;
}

function showValue(v) {
  if (v == null || v === '') return t('notEntered');
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && ('family' in v || 'given' in v)) return [v.family, v.given].filter(Boolean).join(' ');
  return JSON.stringify(v);
}

// ------------------------------------------------------------------------------------------ life events

async function lifeEventPage(id) {
  const index = await loadIndex();
  const entry = (index.life_events || {})[id];
  if (!entry) return notFound();
  const path = entry.versions[entry.latest];
  const ev = await loadJSON(path);
  setPage(tx(ev.title));
  if (ev.description) main.append(el('p', { text: tx(ev.description) }));
  const answers = readJSON(`madoguchi.event.${id}`) || {};
  const qBox = el('div', {});
  const outBox = el('div', { id: 'event-result' });
  main.append(el('h2', { text: t('questions') }), qBox, outBox);
  const drawQuestions = () => {
    qBox.replaceChildren();
    for (const q of visibleQuestions(ev, answers, evaluate, today())) {
      const qid = `q-${q.id}`;
      const fs = el('fieldset', { class: 'field' }, el('legend', { text: tx(q.label) }));
      if (q.help) fs.append(el('p', { class: 'hint', text: tx(q.help) }));
      const box = el('div', { class: 'choices' });
      [[true, t('yes')], [false, t('no')]].forEach(([v, label], i) => {
        const input = el('input', { type: 'radio', name: qid, id: `${qid}-${i}`, checked: answers[q.id] === v });
        input.addEventListener('change', () => { answers[q.id] = v; writeJSON(`madoguchi.event.${id}`, answers); drawQuestions(); drawResult(); });
        box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: label })));
      });
      fs.append(box);
      qBox.append(fs);
    }
  };
  const drawResult = async () => {
    const procs = applicableProcedures(ev, answers, evaluate, today());
    const loaded = [];
    for (const p of procs) {
      const lp = await latestProcedure(p.procedure).catch(() => null);
      if (lp) loaded.push({ ...p, ...lp });
    }
    const docs = mergeDocuments(loaded.map((p) => ({ procedure: p.procedure, documents: documentsFor(p.compiled, {}, evaluate, today()) })));
    const start = el('button', { type: 'button', class: 'btn', text: t('combinedStart') });
    start.addEventListener('click', async () => {
      const bundleId = uuid();
      const drafts = [];
      for (const p of loaded) drafts.push(await newDraft(p, { bundle_id: bundleId }));
      // Values prefilled from a verified profile seed the shared fields (and stay marked as prefilled).
      const { shared, prefilled } = seedShared(ev, drafts);
      const acting = isStaff() ? actingFor() : null;
      await store.put('drafts', {
        id: bundleId, kind: 'bundle', event_id: id, event_version: entry.latest, event_path: path, title: ev.title, shared, prefilled, typed: [],
        drafts: drafts.map((d) => d.id), updated_at: Date.now(), raw: {}, on_behalf_name: acting ? acting.name : null, seen: {},
      });
      scheduleCommit(bundleId);
      location.hash = `#/b/${bundleId}`;
    });
    outBox.replaceChildren(
      el('h2', { text: t('applies') }),
      el('ul', { class: 'cards' }, loaded.map((p) => el('li', { class: 'card' }, link(`#/p/${p.procedure}`, tx(p.compiled.title), 'card-link'), p.reason ? el('p', { text: tx(p.reason) }) : null))),
      docs.length ? el('h2', { text: t('documents') }) : null,
      docs.length ? el('ul', {}, docs.map((x) => el('li', { text: tx(x.label) }))) : null,
      loaded.length ? el('div', { class: 'actions' }, start) : null);
  };
  drawQuestions();
  drawResult();
}

async function bundlePage(bundleId, review) {
  const b = await store.get('drafts', bundleId);
  if (!b || b.kind !== 'bundle' || b.submitted_as) return notFound();
  const index = await loadIndex();
  const evEntry = (index.life_events || {})[b.event_id];
  if (!b.event_path && evEntry) b.event_path = evEntry.versions[b.event_version || evEntry.latest];
  const ev = await loadJSON(b.event_path);
  const parts = [];
  for (const did of b.drafts) {
    let opened = null;
    try { opened = await openDraft(did); } catch { opened = null; }
    if (opened) parts.push(opened);
  }
  if (!parts.length) { await deleteDraft(store, b.id); return notFound(); }
  snapshot(b);
  const byProc = Object.fromEntries(parts.map((p) => [p.d.procedure_id, p.d.answers]));
  const mapped = mappedFields(ev);
  // Only the shared fields that feed an included procedure are asked.
  const sharedDefs = sharedFieldsFor(ev, parts.map((p) => p.d.procedure_id));
  const sharedTitle = { ja: t('shared', null, 'ja'), en: t('shared', null, 'en'), 'ja-easy': t('shared', null, 'ja-easy') };
  const sharedCompiled = { id: ev.id, version: ev.version, title: ev.title, sections: [{ id: 'shared', title: sharedTitle, fields: sharedDefs.map((sf) => sf.field) }] };
  b.shared = b.shared || {};
  b.typed = b.typed || [];
  b.prefilled = b.prefilled || [];
  setPage(tx(ev.title));
  document.getElementById('page-title').before(steps(review ? 1 : 0));
  if (b.on_behalf_name) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: b.on_behalf_name }) }));
  const summaryHolder = el('div', {});
  main.append(summaryHolder);
  const sync = () => { copyShared(ev, b.shared, byProc); for (const p of parts) saveDraft(p.d); saveDraft(b); };
  const evaluateAll = () => parts.map((p) => ({ ...p, result: evalForm(p.compiled, p.d.answers) }));
  const sharedErrors = (results) => {
    const errs = [];
    for (const r of results) for (const e of r.result.errors || []) {
      const src = sharedSource(ev, r.d.procedure_id, String(parsePath(e.path)[0]));
      if (src && isShown(r.result, e.path)) errs.push({ ...e, path: src, scope: 'shared' });
    }
    return dedupe(errs);
  };
  if (review) {
    main.append(el('h2', { text: t('shared') }), el('dl', { class: 'review' }, sharedDefs.map((sf) => el('div', {},
      el('dt', { text: tx(sf.field.label) }), el('dd', { text: formatValue(sf.field, b.shared[sf.field.id]) }),
      el('dd', {}, el('a', { href: `#/b/${b.id}`, class: 'btn-link' }, t('change'), el('span', { class: 'visually-hidden', text: `：${tx(sf.field.label)}` })))))));
    for (const p of evaluateAll()) {
      main.append(el('h2', { text: tx(p.compiled.title) }), ...reviewList(p.compiled, p.d.answers, p.result, () => `#/b/${b.id}`, mapped.get(p.d.procedure_id) || new Set()), ...feeAndDocs(p.compiled, p.d.answers, p.result));
    }
    main.append(el('p', { class: 'notice', text: t('reviewNote') }));
    const submit = el('button', { type: 'button', class: 'btn', id: 'submit', text: t('submit') });
    submit.addEventListener('click', async () => {
      const results = evaluateAll();
      const bad = results.filter((r) => !r.result.valid);
      if (bad.length) {
        const items = bad.map((r) => ({ target: `#/b/${b.id}`, text: `${errorLine(r.compiled, r.result.errors[0])}（${tx(r.compiled.title)}）` }));
        summaryHolder.replaceChildren(errorSummary(items, (it) => { location.hash = it.target; }));
        document.getElementById('error-summary').focus();
        return;
      }
      submit.disabled = true;
      // Every procedure goes to the outbox first (each under its own idempotency key), then one flush.
      const ids = [];
      for (const r of results) {
        ids.push(await queueDraft(r.d, r.compiled, { sharedTyped: mappedTargets(ev, r.d.procedure_id, b.typed), flushNow: false }));
      }
      await deleteDraft(store, b.id);
      await updateSync();
      registerSync();
      flush();
      location.hash = ids.length === 1 ? `#/s/${ids[0]}` : '#/';
    });
    main.append(el('div', { class: 'actions' }, submit, link(`#/b/${b.id}`, t('back'), 'btn-link')));
    return;
  }
  const form = el('form', { novalidate: true, id: 'form' });
  const boxes = [];
  const sharedBox = el('section', {}, el('h2', { text: t('shared') }));
  let showAll = false;
  const sharedDraft = { answers: b.shared, raw: b.raw || (b.raw = {}), prefilled: b.prefilled, locked: [], typed: b.typed, autofilled: b.autofilled };
  const refresh = () => {
    const results = evaluateAll();
    for (const { box, ctx, p } of boxes) {
      const result = results.find((r) => r.d === p.d).result;
      // Sections appear and disappear with the answers (show_if), as on the one-procedure pages.
      for (const sec of box.querySelectorAll(':scope > [data-section]')) {
        sec.hidden = !sectionShown(p.compiled.sections[Number(sec.dataset.section)], p.d.answers);
      }
      applyResult(box, result, ctx, { showAll });
    }
    const se = sharedErrors(results);
    applyResult(sharedBox, { shown: null, values: {}, errors: se }, sharedCtx, { showAll });
  };
  // A postal code lookup (info.rerender) writes several parts at once: redraw that box's fields.
  const sharedFieldsBox = el('div', {});
  const drawShared = () => { sharedFieldsBox.replaceChildren(); renderFields(sharedFieldsBox, sharedCompiled.sections[0].fields, sharedCtx); };
  // The shared answers live in the bundle record: saving goes there (sync() also saves the procedures).
  const sharedCtx = makeCtx('shared', sharedDraft, sharedCompiled, (path, info) => { b.autofilled = sharedDraft.autofilled; sync(); if (info.rerender) drawShared(); refresh(); }, { save: () => {} });
  sharedCtx.onChange = ((inner) => (path, info) => {
    const top = String(parsePath(path)[0]);
    if (info.typed && !b.typed.includes(top)) b.typed.push(top);
    inner(path, info);
  })(sharedCtx.onChange);
  drawShared();
  sharedBox.append(sharedFieldsBox);
  form.append(sharedBox);
  for (const p of parts) {
    const box = el('section', {}, el('h2', { text: tx(p.compiled.title) }));
    const hide = mapped.get(p.d.procedure_id) || new Set();
    const draw = () => {
      box.querySelectorAll(':scope > [data-section]').forEach((n) => n.remove());
      (p.compiled.sections || []).forEach((s, i) => {
        const fields = (s.fields || []).filter((f) => !hide.has(f.id));
        if (!fields.length) return;
        const sec = el('div', { 'data-section': String(i) }, el('h3', { text: tx(s.title) }));
        renderFields(sec, fields, ctx);
        box.append(sec);
      });
    };
    const ctx = makeCtx(`p-${p.d.procedure_id}`, p.d, p.compiled, (path, info) => { if (info.rerender) draw(); refresh(); });
    ctx.hide = hide;
    draw();
    boxes.push({ box, ctx, p });
    form.append(box);
  }
  refresh();
  form.append(el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn', text: t('toReview') }), link(`#/e/${b.event_id}`, t('back'), 'btn-link')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    normalizeFocused();
    showAll = true;
    refresh();
    const results = evaluateAll();
    const items = sharedErrors(results).map((er) => ({ target: domId('shared', er.path), text: errorLine(sharedCompiled, er) }));
    for (const r of results) {
      const hide = mapped.get(r.d.procedure_id) || new Set();
      for (const er of dedupe(r.result.errors || [])) {
        if (hide.has(String(parsePath(er.path)[0])) || !isShown(r.result, er.path)) continue;
        items.push({ target: domId(`p-${r.d.procedure_id}`, er.path), text: `${errorLine(r.compiled, er)}（${tx(r.compiled.title)}）` });
      }
    }
    if (items.length) {
      summaryHolder.replaceChildren(errorSummary(items, (it) => focusField(it.target)));
      document.title = `${t('errorPrefix')}${tx(ev.title)} — ${t('app')}`;
      document.getElementById('error-summary').focus();
      return;
    }
    await saveChain;
    location.hash = `#/b/${b.id}/review`;
  });
  main.append(form);
}

// ------------------------------------------------------------------------------------------ sign-in

async function signinPage() {
  const acc = state.session.signed_in && state.session.account;
  if (acc) {
    setPage(t('accountTitle'));
    await accountPage(main, acc, {
      signedOut: async () => {
        writeJSON(ACTING_KEY, null);
        await refreshSession();
        location.hash = '#/';
      },
    });
    return;
  }
  setPage(t('signinTitle'));
  const msg = el('p', { role: 'status', id: 'signin-status' });
  main.append(el('p', { text: t('signinText') }));
  if (!navigator.onLine) main.append(el('p', { class: 'notice', text: t('signinOffline') }));
  const login = el('button', { type: 'button', class: 'btn', id: 'signin-passkey', text: t('signinPasskey') });
  login.addEventListener('click', () => withStatus(msg, async () => {
    const opts = await api('/auth/login/options', { method: 'POST', body: {} });
    const cred = await navigator.credentials.get({ publicKey: parseRequestOptions(unwrapOptions(opts)) });
    await api('/auth/login/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred) } });
    await afterSignin();
  }));
  const name = el('input', { id: 'display-name', type: 'text', autocomplete: 'nickname', name: 'display_name' });
  const reg = el('form', { novalidate: true, id: 'register-form' }, el('h2', { text: t('register') }),
    el('div', { class: 'field' }, el('label', { for: 'display-name', text: t('displayName') }), name),
    el('button', { type: 'submit', class: 'btn btn-secondary', id: 'register', text: t('register') }));
  reg.addEventListener('submit', (e) => {
    e.preventDefault();
    withStatus(msg, async () => {
      const opts = await api('/auth/register/options', { method: 'POST', body: { display_name: name.value.trim() || 'resident' } });
      const cred = await navigator.credentials.create({ publicKey: parseCreationOptions(unwrapOptions(opts)) });
      const r = await api('/auth/register/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred), passkey_name: navigator.userAgent.slice(0, 60) } });
      await afterSignin(r.recovery_codes);
    });
  });
  main.append(el('div', { class: 'actions' }, login), msg, reg);
}

async function withStatus(msg, fn) {
  msg.textContent = '';
  try { await fn(); } catch (e) {
    msg.textContent = t('signinFailed', { reason: e instanceof ApiError ? e.message : (e && e.name) || String(e) });
  }
}

async function afterSignin(recoveryCodes) {
  await refreshSession();
  await flush(true); // items that waited for sign-in go now
  if (recoveryCodes && recoveryCodes.length) {
    setPage(t('recoveryTitle'));
    main.append(el('p', { text: t('recoveryText') }), el('ul', { id: 'recovery-codes' }, recoveryCodes.map((c) => el('li', {}, el('code', { text: c })))),
      el('div', { class: 'actions' }, link('#/', t('toHome'), 'btn')));
    focusTitle();
    return;
  }
  location.hash = '#/';
}

function notFound() { setPage(t('notFound')); main.append(el('p', {}, link('#/', t('toHome')))); }
function failPage(text) { setPage(text); main.append(el('p', {}, link('#/', t('toHome')))); }

// ------------------------------------------------------------------------------------------ router

async function route(focus = true) {
  const hash = location.hash || '#/';
  if (!hash.startsWith('#/')) return; // in-page anchors (skip link, error summary)
  state.onOutbox = null;
  state.onPulled = null;
  const [path, query] = hash.slice(1).split('?');
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    await loadIndex();
    if (!seg.length) await homePage();
    else if (seg[0] === 'find') await finderPage(new URLSearchParams(query || '').get('q'));
    else if (seg[0] === 'p' && seg[1]) await procedurePage(seg[1]);
    else if (seg[0] === 'd' && seg[1] && seg[2] === 'review') await reviewPage(seg[1]);
    else if (seg[0] === 'd' && seg[1]) await draftPage(seg[1], Number(seg[2] || 0));
    else if (seg[0] === 'e' && seg[1]) await lifeEventPage(seg[1]);
    else if (seg[0] === 'b' && seg[1]) await bundlePage(seg[1], seg[2] === 'review');
    else if (seg[0] === 's' && seg[1]) await submissionPage(seg[1]);
    else if (seg[0] === 'outbox') await outboxPage();
    else if (seg[0] === 'h' && seg[1]) await householdPage(ui, seg[1]);
    else if (seg[0] === 'h') await householdListPage(ui);
    else if (seg[0] === 'signin') await signinPage();
    else notFound();
  } catch (e) {
    console.error(e);
    failPage(t('procedureMissing'));
  }
  main.dataset.ready = 'true';
  if (focus) focusTitle();
}

function warmPostal() {
  // After the app is usable, let the service worker fetch the postal shards in the background.
  const go = async () => {
    if (!navigator.onLine || !('serviceWorker' in navigator)) return;
    const reg = await navigator.serviceWorker.ready;
    const index = await loadIndex();
    if (reg.active && index.postal) reg.active.postMessage({ type: 'warm-postal' });
  };
  setTimeout(() => go().catch(() => {}), 3000);
}

function applyLang() {
  const lang = getLang();
  html.lang = htmlLang(lang);
  document.getElementById('lang').value = lang;
  document.getElementById('lang-label').textContent = t('language');
  document.getElementById('skip-link').textContent = t('skip');
  document.getElementById('brand-name').textContent = t('app');
  document.getElementById('foot-text').textContent = t('footer');
  detailsLink.textContent = t('outboxLink');
  renderAccount();
  if (lastSummary) renderSummary(lastSummary); // in the new language at once, then from storage
  updateSync();
}

// What the household pages (households.js) need from the app shell.
const ui = {
  main, store, setPage, link, route: (focus) => route(focus), flush: (force) => flush(force), updateSync,
  session: () => state.session, onPulled: (fn) => { state.onPulled = fn; }, onOutbox: (fn) => { state.onOutbox = fn; },
  uuid, showValue, itemStateText,
};

async function start() {
  setLang(initialLang());
  applyLang();
  try { await migrateLegacyOutbox(store); } catch (e) { console.error(e); }
  document.getElementById('lang').addEventListener('change', (e) => { setLang(e.target.value); applyLang(); route(false); });
  document.getElementById('skip-link').addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
  retryBtn.addEventListener('click', () => flush(true));
  window.addEventListener('hashchange', () => { flushCommits().then((n) => { if (n) flush(); }); route(); });
  window.addEventListener('online', () => { refreshSession().then(() => flush(true)); });
  // Leaving or hiding the app: pending draft edits go into the outbox now (IndexedDB outlives the page).
  window.addEventListener('pagehide', () => { flushCommits(); });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flushCommits();
    else if (navigator.onLine && state.session.signed_in) flush();
  });
  // Changes made on the user's other devices (or by colleagues) arrive by pull: ask now and then.
  setInterval(() => { if (navigator.onLine && document.visibilityState === 'visible' && state.session.signed_in) flush(); }, 30000);
  if ('serviceWorker' in navigator) {
    const hadController = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.register('/sw.js').catch(() => {});
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (e.data && e.data.type === 'outbox-changed') { updateSync(); if (state.onOutbox) state.onOutbox(); }
      if (e.data && e.data.type === 'pulled' && state.onPulled) state.onPulled(new Set(e.data.types || []));
    });
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      // A new build took over. Drafts and the outbox live in IndexedDB, so reloading loses nothing;
      // stay put while a form is open (its procedure JSON is already in memory).
      if (hadController && !/^#\/(d|b)\//.test(location.hash)) location.reload();
    });
  }
  if (navigator.storage && navigator.storage.persist) navigator.storage.persisted().then((p) => p || navigator.storage.persist()).catch(() => {});
  await route(false);
  updateSync();
  warmPostal();
  refreshSession().then(() => flush());
}

start();
