// The device side of the sync protocol (docs/sync.md, CONTRACT): the outbox of mutations, the local replica
// and its pull cursor, the blob upload queue, and the drafts kept on the device. `sync/client.py` is the
// reference implementation; this file follows the same rules:
//   * every local change is a mutation with a UUIDv7 id, the next client_seq and the value the user saw
//     (`base`); its JSON is frozen when it is queued, so every retry sends identical bytes;
//   * push from the oldest entry, one push in flight per device (a Web Lock shared with the service worker);
//   * pull by cursor: a page and the new cursor are stored in ONE IndexedDB transaction; pulls name the
//     database the replica came from (`db=`), and a `sync-reset` answer starts the replica over (resetReplica);
//   * an entry is deleted only after it has a receipt AND the cursor is >= the receipt's seq; rejections
//     and review conflicts then move to `attention`, shown to the user with their reason;
//   * 401 keeps everything and asks to sign in; the outbox belongs to the account that made it;
//   * files go on their own resumable queue (POST /sync/blobs, PATCH chunks at Upload-Offset).
// Imports only syncstate.js: the build inlines both into the (classic) service worker, next to db.js. The
// store argument is db.js's `store` (or any object with the same `tx(names, mode, fn)`).

import { keyOf, metaGet, same, reviewConflicts, syncSummary, isLegacyEntry } from './syncstate.js';

const SYNC_BATCH = 200; // mutations per push (the server takes up to 1000)
const SYNC_PAGE = 500; // changes per pull page
const BLOB_CHUNK = 256 * 1024;
const SYNC_BACKOFF_BASE_MS = 1000;
const SYNC_BACKOFF_CAP_MS = 5 * 60 * 1000;
const SYNC_LOCK = 'madoguchi-sync';
const SYNC_TIMEOUT_MS = 60 * 1000; // per request; the request is then retried (same bytes)
const SYNC_STORES = ['outbox', 'meta', 'replica', 'attention', 'drafts', 'submissions', 'blobs'];
// Draft record fields that are not answers (docs/sync.md: a draft's data holds procedure_id,
// procedure_version and the answers; `madoguchi` holds what the device needs to show it).
const DRAFT_RESERVED = ['procedure_id', 'procedure_version', 'event_id', 'event_version', 'madoguchi'];

export class SyncStop extends Error {
  /** kind: offline (network or 5xx: back off), auth (401: sign in), csrf (403: refresh the token). */
  constructor(kind, detail) {
    super(detail || kind);
    this.kind = kind;
  }
}

// ------------------------------------------------------------------------------------------ pure helpers

/** Delay before retry `attempt` (0, 1, 2 ...): exponential with full jitter, 1 s .. 5 min. */
export function backoffMs(attempt, rnd = Math.random) {
  const n = Math.max(0, attempt | 0);
  return Math.floor(rnd() * Math.min(SYNC_BACKOFF_CAP_MS, SYNC_BACKOFF_BASE_MS * 2 ** Math.min(n, 20)));
}

function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** A UUIDv7: 48-bit Unix milliseconds, then random bits (sorts by creation time). */
export function uuidv7(nowMs = Date.now(), bytes = randomBytes(16)) {
  const b = new Uint8Array(bytes);
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Next hybrid-logical-clock stamp for a local event: "<wall ms, 13 digits>-<counter hex>-<node>". */
export function hlcTick(prev, nowMs, node) {
  const last = prev || { wall: 0, counter: 0 };
  const next = nowMs > last.wall ? { wall: nowMs, counter: 0 } : { wall: last.wall, counter: last.counter + 1 };
  return { ...next, text: `${String(next.wall).padStart(13, '0')}-${next.counter.toString(16).padStart(4, '0')}-${node}` };
}


const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** A mutation with only the members the protocol knows (the server refuses unknown ones). */
export function buildMutation({ mutation_id, client_id, client_seq, kind, entity, base_version = null, changes, set_ops, command, submission, response, client_hlc }) {
  const m = { mutation_id, client_id, client_seq, kind, entity: { type: entity.type, id: String(entity.id) }, base_version };
  if (changes && Object.keys(changes).length) m.changes = changes;
  if (set_ops && Object.keys(set_ops).length) m.set_ops = set_ops;
  if (command) m.command = command;
  if (submission) m.submission = submission;
  if (response) m.response = response;
  if (client_hlc) m.client_hlc = client_hlc;
  return m;
}

/** An outbox entry: the frozen body plus what the UI shows. */
export function newEntry(m, { now = Date.now(), label = null } = {}) {
  return {
    id: m.mutation_id, seq: m.client_seq, kind: m.kind, type: m.entity.type, rid: m.entity.id,
    body: JSON.stringify(m), state: 'waiting', reason: '', message: '', receipt: null, attempts: 0,
    created_at: now, label,
  };
}

export function mutationOf(entry) {
  return JSON.parse(entry.body);
}

/** A record's data with one pending mutation applied on top (what the user should see). */
export function applyMutation(data, m) {
  if (m.kind === 'record.delete') return null;
  if (m.kind !== 'record.patch' && m.kind !== 'draft.patch') return data;
  const out = data ? clone(data) : {};
  for (const [k, ch] of Object.entries(m.changes || {})) {
    if (ch.new === null || ch.new === undefined) delete out[k];
    else out[k] = clone(ch.new);
  }
  for (const [k, ops] of Object.entries(m.set_ops || {})) {
    const gone = new Set((ops.remove || []).map(String));
    let items = (out[k] || []).filter((x) => !gone.has(String(x && x.id)));
    for (const el of ops.add || []) items = [...items.filter((x) => String(x && x.id) !== String(el.id)), clone(el)];
    out[k] = items;
  }
  return out;
}

/** The replica record plus this device's pending mutations (docs/sync.md, outbox rule 1). */
export function viewOf(rec, entries, cursor) {
  let data = rec && !rec.deleted ? clone(rec.data) : null;
  for (const e of [...entries].sort((a, b) => a.seq - b.seq)) {
    if (e.state === 'needs_review' || e.state === 'failed') continue;
    if (e.receipt && e.receipt.seq <= cursor) continue; // already in the replica
    data = applyMutation(data, mutationOf(e));
  }
  return data;
}

/** The device state a receipt puts an entry in. */
export function receiptState(r) {
  const status = r.status === 'duplicate' && r.original_status ? r.original_status : r.status;
  if (status === 'rejected') return { state: 'failed', reason: r.reason || 'rejected', message: r.message || '' };
  if (status === 'conflict' && (r.conflicts || []).some((c) => c.outcome !== 'mine_applied')) {
    return { state: 'needs_review', reason: 'review', message: '' };
  }
  return { state: 'sent', reason: '', message: '' };
}



// ------------------------------------------------------------------------------------------ drafts

/** The synced fields of a local draft (or life-event bundle) object. */
export function draftFields(d) {
  if (d.kind === 'bundle') {
    return {
      ...clone(d.shared || {}), event_id: d.event_id, event_version: d.event_version ?? null,
      madoguchi: { kind: 'bundle', title: d.title ?? null, drafts: d.drafts || [], on_behalf_name: d.on_behalf_name ?? null, questions: clone(d.questions || {}) },
    };
  }
  return {
    ...clone(d.retired || {}), ...clone(d.answers || {}), procedure_id: d.procedure_id, procedure_version: d.procedure_version,
    madoguchi: {
      kind: 'draft', title: d.title ?? null, submission_id: d.submission_id ?? null, on_behalf_of: d.on_behalf_of ?? null,
      on_behalf_name: d.on_behalf_name ?? null, opened_at: d.opened_at ?? null, bundle_id: d.bundle_id ?? null,
    },
  };
}

/** A local draft object from synced fields; local-only parts (raw input, telemetry counts) from `prev`. */
export function draftFromFields(id, fields, prev = null, now = Date.now()) {
  const meta = fields.madoguchi || {};
  const rest = {};
  for (const [k, v] of Object.entries(fields)) if (!DRAFT_RESERVED.includes(k)) rest[k] = clone(v);
  const local = {
    raw: {}, prefilled: [], locked: [], typed: [], autofilled: [], ...(prev || {}), id, updated_at: now,
    title: meta.title ?? (prev && prev.title) ?? null, on_behalf_name: meta.on_behalf_name ?? null,
  };
  if (meta.kind === 'bundle') {
    return {
      ...local, kind: 'bundle', event_id: fields.event_id, event_version: fields.event_version ?? null, drafts: meta.drafts || [], shared: rest,
      questions: clone(meta.questions || {}), // the question answers a question's maps_to fills fields from (lifeevent.js)
    };
  }
  const samePath = prev && prev.procedure_id === fields.procedure_id && prev.procedure_version === fields.procedure_version;
  return {
    ...local, kind: 'draft', procedure_id: fields.procedure_id, procedure_version: fields.procedure_version,
    procedure_path: samePath ? prev.procedure_path : null, submission_id: meta.submission_id ?? null,
    on_behalf_of: meta.on_behalf_of ?? null, opened_at: meta.opened_at ?? null, bundle_id: meta.bundle_id ?? null,
    answers: rest, retired: {},
  };
}

/**
 * Merge a newer server view into the local draft: a field the user has not changed since it was last
 * committed takes the server's value; an uncommitted local edit stays (its base stays what the user saw).
 */
export function mergeDraft(local, view, now = Date.now()) {
  const fields = draftFields(local);
  const seen = local.seen || {};
  const next = {};
  const nextSeen = {};
  for (const k of new Set([...Object.keys(fields), ...Object.keys(view), ...Object.keys(seen)])) {
    if (same(fields[k], seen[k])) {
      if (view[k] !== undefined && view[k] !== null) next[k] = clone(view[k]);
      nextSeen[k] = clone(view[k]);
    } else {
      if (fields[k] !== undefined) next[k] = fields[k];
      nextSeen[k] = clone(seen[k]);
    }
  }
  const out = draftFromFields(local.id, next, local, now);
  out.seen = nextSeen;
  return out;
}

// ------------------------------------------------------------------------------------------ storage steps

const metaSet = (t, key, value) => t.put('meta', { key, value });

/** This installation's client id (created once). */
export async function clientId(store, { now = Date.now(), bytes } = {}) {
  return store.tx(['meta'], 'readwrite', async (t) => {
    let id = await metaGet(t, 'client_id', null);
    if (!id) { id = uuidv7(now, bytes); await metaSet(t, 'client_id', id); }
    return id;
  });
}

/**
 * Queue one mutation inside a transaction over at least outbox, meta and replica. `spec`: {kind, type, id,
 * changes?, set_ops?, command?, submission?, base_version?, label?}. base_version defaults to the replica's.
 */
export async function enqueueIn(t, spec, { now = Date.now(), bytes } = {}) {
  let cid = await metaGet(t, 'client_id', null);
  if (!cid) { cid = uuidv7(now); await metaSet(t, 'client_id', cid); }
  const seq = (await metaGet(t, 'client_seq', 0)) + 1;
  await metaSet(t, 'client_seq', seq);
  const hlc = hlcTick(await metaGet(t, 'hlc', null), now, cid);
  await metaSet(t, 'hlc', { wall: hlc.wall, counter: hlc.counter });
  let base = spec.base_version;
  if (base === undefined) {
    const rec = await t.get('replica', keyOf(spec.type, spec.id));
    base = rec ? rec.version : null;
  }
  const m = buildMutation({
    mutation_id: uuidv7(now, bytes), client_id: cid, client_seq: seq, kind: spec.kind, entity: { type: spec.type, id: spec.id },
    base_version: base, changes: spec.changes, set_ops: spec.set_ops, command: spec.command, submission: spec.submission, response: spec.response, client_hlc: hlc.text,
  });
  const entry = newEntry(m, { now, label: spec.label || null });
  await t.put('outbox', entry);
  return entry;
}

export async function enqueue(store, spec, opts = {}) {
  return store.tx(['outbox', 'meta', 'replica'], 'readwrite', (t) => enqueueIn(t, spec, opts));
}

/** Pending entries of one record and the view the user sees (inside a transaction). */
async function viewIn(t, type, id) {
  const rec = await t.get('replica', keyOf(type, id));
  const entries = (await t.all('outbox')).filter((e) => e.type === type && e.rid === String(id));
  const cursor = await metaGet(t, 'cursor', 0);
  return { rec, entries, view: viewOf(rec, entries, cursor) };
}

/** Every record of a type as the user sees it: [{id, version, data, pending, review}]. */
export async function recordsOfType(store, type) {
  return store.tx(['replica', 'outbox', 'meta', 'attention'], 'readonly', async (t) => {
    const cursor = await metaGet(t, 'cursor', 0);
    const outbox = (await t.all('outbox')).filter((e) => e.type === type);
    const attention = (await t.all('attention')).filter((e) => e.type === type);
    const ids = new Set([...(await t.all('replica')).filter((r) => r.type === type).map((r) => r.id), ...outbox.map((e) => e.rid)]);
    const out = [];
    for (const id of ids) {
      const rec = await t.get('replica', keyOf(type, id));
      const mine = outbox.filter((e) => e.rid === id);
      const data = viewOf(rec, mine, cursor);
      if (!data) continue;
      out.push({ id, version: rec ? rec.version : null, data, pending: mine.filter((e) => e.state === 'waiting' || e.state === 'sending'),
        review: [...mine, ...attention.filter((e) => e.rid === id)].filter((e) => e.state === 'needs_review') });
    }
    return out;
  });
}

/**
 * Turn a draft's uncommitted local changes into one `draft.patch` (base = what the user last saw). An
 * entry that was never sent is extended instead of queuing another one (same record, not yet pushed).
 */
export async function commitDraft(store, id, opts = {}) {
  const now = opts.now || Date.now();
  return store.tx(['drafts', 'outbox', 'meta', 'replica'], 'readwrite', async (t) => {
    const d = await t.get('drafts', id);
    if (!d || d.submitted_as) return null;
    const fields = draftFields(d);
    const seen = d.seen || {};
    const changes = {};
    for (const k of new Set([...Object.keys(fields), ...Object.keys(seen)])) {
      if (!same(fields[k], seen[k])) changes[k] = { base: clone(seen[k]) ?? null, new: clone(fields[k]) ?? null };
    }
    if (!Object.keys(changes).length) return null;
    const label = { kind: d.kind === 'bundle' ? 'bundle' : 'draft', title: d.title || null };
    const mine = (await t.all('outbox')).filter((e) => e.type === 'draft' && e.rid === id).sort((a, b) => a.seq - b.seq);
    const last = mine[mine.length - 1];
    let entry;
    if (last && last.kind === 'draft.patch' && last.state === 'waiting' && last.attempts === 0) {
      const m = mutationOf(last);
      for (const [k, ch] of Object.entries(changes)) m.changes = { ...(m.changes || {}), [k]: { base: m.changes && m.changes[k] ? m.changes[k].base : ch.base, new: ch.new } };
      last.body = JSON.stringify(m);
      await t.put('outbox', last);
      entry = last;
    } else {
      entry = await enqueueIn(t, { kind: 'draft.patch', type: 'draft', id, changes, label }, { now, bytes: opts.bytes });
    }
    d.seen = fields;
    await t.put('drafts', d);
    return entry;
  });
}

/** Remove a draft here and on the user's other devices (a never-sent draft just disappears). */
export async function deleteDraftIn(t, id, opts = {}) {
  await t.delete('drafts', id);
  const rec = await t.get('replica', keyOf('draft', id));
  const mine = (await t.all('outbox')).filter((e) => e.type === 'draft' && e.rid === id);
  if (!rec && mine.every((e) => e.state === 'waiting' && e.attempts === 0)) {
    for (const e of mine) await t.delete('outbox', e.id);
    return null;
  }
  if (rec && rec.deleted && !mine.length) return null;
  return enqueueIn(t, { kind: 'record.delete', type: 'draft', id, label: { kind: 'draft', title: null } }, opts);
}

export async function deleteDraft(store, id, opts = {}) {
  return store.tx(['drafts', 'outbox', 'meta', 'replica'], 'readwrite', (t) => deleteDraftIn(t, id, opts));
}

/**
 * Queue a submission (`submission.create`, exactly once under `submission_id`) and its files. The draft stays
 * hidden on the device until the receipt: then it is deleted everywhere; on a rejection it comes back.
 */
export async function queueSubmission(store, { submission_id, submission, label, draft_id, blobs = [] }, opts = {}) {
  return store.tx(SYNC_STORES, 'readwrite', async (t) => {
    // A resubmission after a rejection replaces the old failed entry.
    await dropFailed(t, submission_id, 'submission.create');
    const entry = await enqueueIn(t, { kind: 'submission.create', type: 'submission', id: submission_id, submission, base_version: null, label }, opts);
    if (draft_id) {
      const d = await t.get('drafts', draft_id);
      if (d) { d.submitted_as = submission_id; d.error = ''; await t.put('drafts', d); }
    }
    await claimBlobs(t, blobs, submission_id);
    return entry;
  });
}

/**
 * Queue a reply to a request for information (`submission.respond`, stored once under `response.id`) and its
 * files, after the submission's own entries. The files are blobs already saved (`saveBlob`).
 */
export async function queueResponse(store, { submission_id, response, label, blobs = [] }, opts = {}) {
  return store.tx(SYNC_STORES, 'readwrite', async (t) => {
    // A reply sent again after it failed replaces the old failed one (else 送信失敗 stays until dismissed).
    await dropFailed(t, submission_id, 'submission.respond');
    const entry = await enqueueIn(t, { kind: 'submission.respond', type: 'submission', id: submission_id, response, base_version: null, label }, opts);
    await claimBlobs(t, blobs, submission_id);
    return entry;
  });
}

/** Delete the failed `kind` entries of submission `sid` (outbox and attention), inside a transaction. */
async function dropFailed(t, sid, kind) {
  for (const e of [...(await t.all('outbox')), ...(await t.all('attention'))]) {
    if (e.type === 'submission' && e.rid === sid && e.kind === kind && e.state === 'failed') {
      await t.delete('outbox', e.id);
      await t.delete('attention', e.id);
    }
  }
}

/** Mark the saved blobs `shas` queued and owned by submission `sid` (uploaded before its entry is pushed). */
async function claimBlobs(t, shas, sid) {
  for (const sha of shas) {
    const b = await t.get('blobs', sha);
    if (!b) continue;
    b.queued = true;
    b.owners = [...new Set([...(b.owners || []), sid])];
    await t.put('blobs', b);
  }
}

// ------------------------------------------------------------------------------------------ network steps

async function problemOf(r) {
  try { return await r.json(); } catch { return null; }
}

/** fetch with a time limit: a request that hangs (dead connection) must not hold the sync lock forever. */
function send(env, url, opts) {
  const signal = typeof AbortSignal !== 'undefined' && AbortSignal.timeout ? AbortSignal.timeout(SYNC_TIMEOUT_MS) : undefined;
  return env.fetch(url, signal ? { ...opts, signal } : opts);
}

function headersFor(env, extra = {}) {
  return env.csrf().then((token) => ({ Accept: 'application/json', 'X-CSRF-Token': token || '', ...extra }));
}

/** Push the oldest unacknowledged entries (one request). Returns how many entries got a receipt. */
export async function pushOnce(env) {
  const { store } = env;
  const now = env.now ? env.now() : Date.now();
  const batch = await store.tx(['outbox', 'meta'], 'readwrite', async (t) => {
    const max = (await metaGet(t, 'batch', SYNC_BATCH)) || SYNC_BATCH;
    const todo = (await t.all('outbox')).filter((e) => e.state === 'waiting' || e.state === 'sending').sort((a, b) => a.seq - b.seq).slice(0, max);
    for (const e of todo) { e.state = 'sending'; e.attempts += 1; await t.put('outbox', e); }
    return todo;
  });
  if (!batch.length) return 0;
  if (env.onChange) env.onChange();
  const body = `{"mutations":[${batch.map((e) => e.body).join(',')}]}`;
  let r;
  try {
    r = await send(env, '/sync/push', { method: 'POST', credentials: 'same-origin', headers: await headersFor(env, { 'Content-Type': 'application/json' }), body });
  } catch (e) {
    await backToWaiting(store, batch);
    throw new SyncStop('offline', String(e && e.message));
  }
  if (r.status === 200) {
    const data = await r.json();
    await takeReceipts(store, batch, data.receipts || [], now);
    return data.receipts.length;
  }
  await backToWaiting(store, batch);
  const problem = await problemOf(r);
  if (r.status === 401) throw new SyncStop('auth');
  if (r.status === 403) throw new SyncStop('csrf');
  if (r.status === 422 && problem && String(problem.type || '').endsWith('idempotency-key-reused')) {
    const bad = new Set(problem.mutation_ids || []);
    await store.tx(['outbox'], 'readwrite', async (t) => {
      for (const e of batch) if (bad.has(e.id)) { const cur = await t.get('outbox', e.id); if (cur) { cur.state = 'failed'; cur.reason = 'key_reused'; cur.message = ''; await t.put('outbox', cur); } }
    });
    return 0;
  }
  if ((r.status === 400 || r.status === 413) && batch.length > 1) {
    // Find the one the server cannot read: send them one at a time from now on.
    await store.tx(['meta'], 'readwrite', (t) => metaSet(t, 'batch', 1));
    return 0;
  }
  if (r.status === 400 || r.status === 413) {
    await store.tx(['outbox'], 'readwrite', async (t) => {
      const cur = await t.get('outbox', batch[0].id);
      if (cur) { cur.state = 'failed'; cur.reason = 'bad_request'; cur.message = (problem && problem.detail) || `HTTP ${r.status}`; await t.put('outbox', cur); }
    });
    return 0;
  }
  throw new SyncStop('offline', `HTTP ${r.status}`);
}

async function backToWaiting(store, batch) {
  await store.tx(['outbox'], 'readwrite', async (t) => {
    for (const e of batch) { const cur = await t.get('outbox', e.id); if (cur && cur.state === 'sending') { cur.state = 'waiting'; await t.put('outbox', cur); } }
  });
}

async function takeReceipts(store, batch, receipts, now) {
  const byId = new Map(receipts.map((r) => [r.mutation_id, r]));
  await store.tx(SYNC_STORES, 'readwrite', async (t) => {
    for (const e of batch) {
      const r = byId.get(e.id);
      const cur = await t.get('outbox', e.id);
      if (!r || !cur) continue;
      Object.assign(cur, receiptState(r), { receipt: r });
      await t.put('outbox', cur);
      // This device's client id belongs to another account (a device shared before ids were per account):
      // later changes go under a new one; the refused ones are shown as failed.
      if (r.reason === 'client_id_bound') { await metaSet(t, 'client_id', null); await metaSet(t, 'client_seq', 0); }
      if (cur.kind === 'submission.respond' && cur.state !== 'failed') {
        // The reply is on the server: the application is back in review (until the next status pull).
        const old = await t.get('submissions', cur.rid);
        if (old && r.result && r.result.status) await t.put('submissions', { ...old, status: r.result.status, own_change: true });
      }
      if (cur.kind !== 'submission.create') continue;
      const sid = cur.rid;
      const sub = mutationOf(cur).submission || {};
      const drafts = (await t.all('drafts')).filter((d) => d.submitted_as === sid);
      if (cur.state === 'failed') {
        // The draft comes back with the reason, to be corrected and sent again.
        for (const d of drafts) { d.submitted_as = null; d.error = cur.message || cur.reason; await t.put('drafts', d); }
        continue;
      }
      const result = r.result || {};
      const old = (await t.get('submissions', sid)) || {};
      await t.put('submissions', {
        ...old, id: sid, receipt_number: result.receipt_number || old.receipt_number, status: old.status || result.status || 'received',
        procedure_id: sub.procedure_id, procedure_version: sub.procedure_version, on_behalf_of: sub.on_behalf_of || null,
        title: (cur.label && cur.label.title) || old.title || null, received_at: old.received_at || new Date(now).toISOString(),
        flags: result.flags || [],
      });
      for (const d of drafts) await deleteDraftIn(t, d.id, { now });
    }
    await metaSet(t, 'batch', SYNC_BATCH);
  });
}

/** Pull every page after the cursor; each page and its cursor in one transaction. Returns changed types. */
export async function pullAll(env, { maxPages = 1000 } = {}) {
  const { store } = env;
  const changed = new Set();
  let resets = 0;
  for (let i = 0; i < maxPages; i++) {
    const [cursor, db] = await store.tx(['meta'], 'readonly', async (t) => [await metaGet(t, 'cursor', 0), await metaGet(t, 'database_id', null)]);
    let r;
    try {
      const dbParam = db ? `&db=${encodeURIComponent(db)}` : '';
      r = await send(env, `/sync/pull?cursor=${cursor}&limit=${SYNC_PAGE}${dbParam}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new SyncStop('offline', String(e && e.message));
    }
    if (r.status === 401) throw new SyncStop('auth');
    if (r.status === 409 && resets < 2) {
      const p = await problemOf(r);
      if (p && String(p.type || '').endsWith('/sync-reset')) {
        // Another database (replaced or restored): start over from 0, keeping the outbox (docs/sync.md).
        resets += 1;
        for (const type of await resetReplica(store)) changed.add(type);
        continue;
      }
    }
    if (!r.ok) throw new SyncStop('offline', `HTTP ${r.status}`);
    const page = await r.json();
    for (const type of await applyPage(store, page, env.now ? env.now() : Date.now())) changed.add(type);
    if (!page.has_more) break;
  }
  return changed;
}

/** Store one pull page: records, cursor, pruned outbox and the drafts shown on the device, together. */
export async function applyPage(store, page, now = Date.now()) {
  return store.tx(SYNC_STORES, 'readwrite', async (t) => {
    const types = new Set();
    const drafts = new Set();
    for (const ch of page.changes || []) {
      const key = keyOf(ch.type, ch.id);
      const old = await t.get('replica', key);
      if (old && ch.version < old.version) continue;
      await t.put('replica', { key, type: ch.type, id: ch.id, version: ch.version, deleted: Boolean(ch.deleted), data: ch.data || {} });
      types.add(ch.type);
      if (ch.type === 'draft') drafts.add(ch.id);
    }
    const cursor = Math.max(await metaGet(t, 'cursor', 0), page.cursor || 0);
    await metaSet(t, 'cursor', cursor);
    if (page.database_id) await metaSet(t, 'database_id', page.database_id);
    // Outbox rule 3: forget an entry only when its receipt's effect is in the replica.
    for (const e of await t.all('outbox')) {
      if (!e.receipt || e.receipt.seq > cursor || e.state === 'waiting' || e.state === 'sending') continue;
      await t.delete('outbox', e.id);
      if (e.state === 'needs_review' || e.state === 'failed') await t.put('attention', { ...e, moved_at: now });
      if (e.type === 'draft') drafts.add(e.rid);
    }
    for (const id of drafts) {
      const { rec, view } = await viewIn(t, 'draft', id);
      const local = await t.get('drafts', id);
      if (!view) {
        // Deleted on the server (sent or deleted on another device); a draft that simply never reached
        // the server (its creation was refused) stays here.
        if (local && !local.submitted_as && rec && rec.deleted) await t.delete('drafts', id);
        continue;
      }
      if (!local) {
        const d = draftFromFields(id, view, null, now);
        d.seen = clone(view);
        await t.put('drafts', d);
      } else if (!local.submitted_as) {
        await t.put('drafts', mergeDraft(local, view, now));
      }
    }
    return [...types];
  });
}

/**
 * The server's `sync-reset`: drop the replica, the cursor and the database id, keep the outbox (entries
 * acknowledged but not yet seen in a pull are queued again: the server answers `duplicate` for those it
 * has) and the drafts on the device. Returns the record types that were in the replica.
 */
export async function resetReplica(store) {
  return store.tx(SYNC_STORES, 'readwrite', async (t) => {
    const types = new Set();
    for (const rec of await t.all('replica')) { types.add(rec.type); await t.delete('replica', rec.key); }
    await metaSet(t, 'cursor', 0);
    await metaSet(t, 'database_id', null);
    for (const e of await t.all('outbox')) {
      if (e.state === 'sent') await t.put('outbox', { ...e, state: 'waiting', receipt: null });
    }
    return [...types];
  });
}

/** Upload queued files, resuming where the server is (Upload-Offset). Never blocks data sync. */
export async function uploadBlobs(env) {
  const { store } = env;
  const todo = (await store.tx(['blobs'], 'readonly', (t) => t.all('blobs'))).filter((b) => b.queued && !b.uploaded && !b.failed);
  for (const b of todo) {
    const size = b.size || (b.blob && b.blob.size) || 0;
    const save = (patch) => store.tx(['blobs'], 'readwrite', async (t) => { const cur = await t.get('blobs', b.sha256); if (cur) await t.put('blobs', { ...cur, ...patch }); });
    let r;
    try {
      r = await send(env, '/sync/blobs', { method: 'POST', credentials: 'same-origin', headers: await headersFor(env, { 'Content-Type': 'application/json' }), body: JSON.stringify({ sha256: b.sha256, size }) });
    } catch (e) { throw new SyncStop('offline', String(e && e.message)); }
    if (r.status === 401) throw new SyncStop('auth');
    if (r.status === 403) throw new SyncStop('csrf');
    if (r.status >= 500) throw new SyncStop('offline', `HTTP ${r.status}`);
    const info = await problemOf(r);
    // The account's unfinished uploads are at their limit (docs/sync.md): keep the file queued, try later.
    if (r.status === 429 || (r.status === 413 && info && String(info.type || '').endsWith('/upload-quota'))) throw new SyncStop('offline', `HTTP ${r.status}`);
    if (r.status !== 200 && r.status !== 201) { await save({ failed: true, error: (info && info.detail) || `HTTP ${r.status}` }); continue; }
    let offset = info.offset || 0;
    let restarts = 0;
    while (!info.complete && offset < size) {
      const chunk = b.blob.slice(offset, Math.min(size, offset + BLOB_CHUNK));
      try {
        r = await send(env, `/sync/blobs/${b.sha256}`, { method: 'PATCH', credentials: 'same-origin', headers: await headersFor(env, { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' }), body: chunk });
      } catch (e) {
        await save({ offset });
        throw new SyncStop('offline', String(e && e.message));
      }
      if (r.status === 204) { offset = Number(r.headers.get('Upload-Offset')) || offset + chunk.size; await save({ offset }); continue; }
      if (r.status === 401) throw new SyncStop('auth');
      if (r.status === 403) throw new SyncStop('csrf');
      if (r.status >= 500) throw new SyncStop('offline', `HTTP ${r.status}`);
      const p = await problemOf(r);
      if (r.status === 409 && p && Number.isInteger(p.offset)) { offset = p.offset; continue; }
      if (r.status === 422 && p && String(p.type || '').endsWith('digest-mismatch') && restarts < 2) { restarts += 1; offset = 0; continue; }
      await save({ failed: true, error: (p && p.detail) || `HTTP ${r.status}` });
      offset = -1;
      break;
    }
    if (offset >= 0) await save({ uploaded: true, offset: size });
    if (env.onChange) env.onChange();
  }
}

/** Drop review items a person has decided (GET /api/conflicts?mine=1); returns the record types touched. */
export async function refreshAttention(env) {
  const { store } = env;
  const waiting = (await store.tx(['attention', 'outbox'], 'readonly', async (t) => [...(await t.all('attention')), ...(await t.all('outbox'))]))
    .filter((e) => e.state === 'needs_review');
  if (!waiting.length) return new Set();
  // Every page of my conflicts (newest first, `cursor` from the previous page; docs/sync.md).
  const status = new Map();
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    let r;
    try { r = await send(env, `/api/conflicts?mine=1&status=all&limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } }); } catch { return new Set(); }
    if (!r.ok) return new Set();
    const page = await r.json();
    for (const c of page.items || []) status.set(c.id, c.status);
    if (!page.has_more) break;
    cursor = page.cursor;
  }
  const types = new Set();
  await store.tx(['attention', 'outbox'], 'readwrite', async (t) => {
    for (const e of waiting) {
      const ids = reviewConflicts(e).map((c) => c.conflict_id);
      if (!ids.length || !ids.every((id) => status.get(id) === 'resolved')) continue;
      types.add(e.type);
      const store2 = (await t.get('attention', e.id)) ? 'attention' : 'outbox';
      const cur = await t.get(store2, e.id);
      if (store2 === 'attention') await t.delete('attention', e.id);
      else if (cur) { cur.state = 'sent'; cur.reason = 'resolved'; await t.put('outbox', cur); }
    }
  });
  return types;
}


/**
 * One sync round: push everything, pull, upload files (repeated while receipts queue follow-ups such as a
 * submitted draft's deletion). env: {store, fetch, csrf, account: async () => id|null, now, force,
 * onChange, onPulled(types), onAccountChange(old, new)}. Returns the summary.
 */
export async function syncNow(env) {
  const run = async () => {
    const { store } = env;
    const now = env.now ? env.now() : Date.now();
    const account = await env.account();
    const st = await store.tx(['meta', 'outbox'], 'readwrite', async (t) => {
      const owner = await metaGet(t, 'owner', null);
      const pending = (await t.all('outbox')).length;
      if (!account) {
        if (pending) await metaSet(t, 'needs_signin', true);
        return 'stop';
      }
      if (owner && owner !== account) {
        // Not sent under another identity: kept (and exportable) until that account signs in again.
        if (pending) { await metaSet(t, 'other_account', true); return 'stop'; }
        return 'switch';
      }
      if (!owner) await metaSet(t, 'owner', account);
      await metaSet(t, 'other_account', false);
      const backoff = await metaGet(t, 'backoff', { attempt: 0, next_at: 0 });
      if (!env.force && backoff.next_at > now) return 'later';
      return 'go';
    });
    if (st === 'switch') await resetForAccount(store, account);
    if (st === 'stop' || st === 'later') return syncSummary(store);
    try {
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 10000 && (await pushOnce(env)); i++) { /* until the outbox is drained */ }
        const types = await pullAll(env);
        if (env.onPulled && types.size) env.onPulled(types);
        await uploadBlobs(env);
        const more = await store.tx(['outbox'], 'readonly', async (t) => (await t.all('outbox')).some((e) => e.state === 'waiting'));
        if (!more) break;
      }
      const decided = await refreshAttention(env);
      if (env.onPulled && decided.size) env.onPulled(decided);
      await store.tx(['meta'], 'readwrite', async (t) => { await metaSet(t, 'backoff', { attempt: 0, next_at: 0 }); await metaSet(t, 'needs_signin', false); });
    } catch (e) {
      if (!(e instanceof SyncStop)) throw e;
      await store.tx(['meta'], 'readwrite', async (t) => {
        if (e.kind === 'auth') { await metaSet(t, 'needs_signin', true); return; }
        const b = await metaGet(t, 'backoff', { attempt: 0, next_at: 0 });
        await metaSet(t, 'backoff', { attempt: b.attempt + 1, next_at: now + Math.max(1000, backoffMs(b.attempt, env.random)) });
      });
      if (e.kind === 'csrf' && env.refreshCsrf) await env.refreshCsrf();
    }
    if (env.onChange) env.onChange();
    return syncSummary(store);
  };
  const locks = globalThis.navigator && globalThis.navigator.locks;
  // One sync at a time per device, across tabs and the service worker: a second caller waits its turn
  // (and then sends whatever was queued meanwhile).
  if (locks && locks.request) return locks.request(SYNC_LOCK, run);
  return run();
}

/**
 * Another account signed in on this device with nothing queued: start its replica from scratch, under a new
 * client id (the server binds a client id to the first account that pushes with it: docs/sync.md).
 */
async function resetForAccount(store, account) {
  await store.tx(SYNC_STORES, 'readwrite', async (t) => {
    await metaSet(t, 'client_id', null); // the next mutation creates this account's own
    await metaSet(t, 'client_seq', 0);
    for (const r of await t.all('replica')) await t.delete('replica', r.key);
    for (const a of await t.all('attention')) await t.delete('attention', a.id);
    for (const d of await t.all('drafts')) if (d.seen && Object.keys(d.seen).length) await t.delete('drafts', d.id);
    for (const s of await t.all('submissions')) await t.delete('submissions', s.id);
    await metaSet(t, 'cursor', 0);
    await metaSet(t, 'owner', account);
    await metaSet(t, 'needs_signin', false);
  });
}

/** Last resort: every queued and unresolved entry as a JSON document the user can save and hand to staff. */
export async function exportOutbox(store, now = Date.now()) {
  return store.tx(['outbox', 'attention', 'meta', 'blobs'], 'readonly', async (t) => {
    const entry = (e) => ({ state: e.state, reason: e.reason || null, message: e.message || null, receipt: e.receipt, label: e.label, mutation: mutationOf(e) });
    const doc = {
      format: 'madoguchi-outbox', version: 1, exported_at: new Date(now).toISOString(),
      client_id: await metaGet(t, 'client_id', null), account_id: await metaGet(t, 'owner', null), cursor: await metaGet(t, 'cursor', 0),
      entries: (await t.all('outbox')).sort((a, b) => a.seq - b.seq).map(entry),
      attention: (await t.all('attention')).sort((a, b) => a.seq - b.seq).map(entry),
      files: (await t.all('blobs')).filter((b) => b.queued && !b.uploaded).map((b) => ({ sha256: b.sha256, name: b.name || null, size: b.size || null, owners: b.owners || [] })),
    };
    return JSON.stringify(doc, null, 1);
  });
}

/**
 * Items queued by the app before it spoke the sync protocol (POST /api/submissions bodies): each unsent
 * one becomes a `submission.create` under the same submission id, so one that did reach the server is
 * answered with its receipt and not stored twice.
 */
export async function migrateLegacyOutbox(store, opts = {}) {
  const now = opts.now || Date.now();
  return store.tx(SYNC_STORES, 'readwrite', async (t) => {
    let n = 0;
    for (const o of await t.all('outbox')) {
      if (!isLegacyEntry(o)) continue;
      await t.delete('outbox', o.id);
      if (o.state === 'sent' && o.receipt) {
        await t.put('submissions', { ...o.receipt, title: o.title, on_behalf_of: o.on_behalf_of });
        continue;
      }
      const body = JSON.parse(o.body);
      const submission = { procedure_id: body.procedure_id, procedure_version: body.procedure_version, answers: body.answers || {}, attachments: o.attachments || [] };
      if (body.on_behalf_of) submission.on_behalf_of = body.on_behalf_of;
      if (o.telemetry) submission.telemetry = { ...o.telemetry, acknowledged_at: new Date(o.created_at ?? now).toISOString() };
      await enqueueIn(t, { kind: 'submission.create', type: 'submission', id: body.id, submission, base_version: null, label: { kind: 'submission', title: o.title || null } }, { now });
      for (const sha of o.attachments || []) {
        const b = await t.get('blobs', sha);
        if (b && !b.uploaded) { b.queued = true; b.owners = [...new Set([...(b.owners || []), body.id])]; b.size = b.size || (b.blob && b.blob.size) || 0; await t.put('blobs', b); }
      }
      n += 1;
    }
    return n;
  });
}
