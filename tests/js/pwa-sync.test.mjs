// The PWA's sync engine (pwa/js/sync.js) against an in-memory store and a small fake of the server's
// protocol (docs/sync.md): drafts across devices, exactly-once retries, the pruning rule, 401, files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  uuidv7, hlcTick, backoffMs, receiptState, viewOf, newEntry, buildMutation,
  draftFields, draftFromFields, mergeDraft, commitDraft, deleteDraft, queueSubmission, enqueue, syncNow, pushOnce,
  pullAll, applyPage, exportOutbox, migrateLegacyOutbox, recordsOfType, clientId,
} from '../../pwa/js/sync.js';
import { same, canonicalJSON, summarize, syncSummary } from '../../pwa/js/syncstate.js';
import { memStore } from './memstore.mjs';

function reply(status, body, headers = {}) {
  return { status, ok: status >= 200 && status < 300, json: async () => body, headers: { get: (h) => headers[h] ?? headers[h.toLowerCase()] ?? null } };
}

/** Enough of the server to exercise the device: last writer wins per field, receipts kept per id. */
function fakeServer(dbid = 'db-A') {
  const s = { dbid, records: new Map(), seq: 0, changes: new Map(), receipts: new Map(), bodies: [], submissions: new Map(), blobs: new Map(), drop: 0, down: false, expired: new Set(), pulls: 0 };
  s.fetch = (account) => async (url, opts = {}) => {
    if (s.down) throw new TypeError('Failed to fetch');
    if (s.expired.has(account)) return reply(401, { type: 'unauthorized' });
    const u = new URL(url, 'http://x');
    if (u.pathname === '/sync/push') {
      s.bodies.push(opts.body);
      const receipts = JSON.parse(opts.body).mutations.map((m) => s.apply(m, account));
      if (s.drop > 0) { s.drop -= 1; throw new TypeError('connection reset'); } // committed, answer lost
      return reply(200, { receipts });
    }
    if (u.pathname === '/sync/pull') {
      s.pulls += 1;
      const cursor = Number(u.searchParams.get('cursor'));
      const limit = Number(u.searchParams.get('limit'));
      const db = u.searchParams.get('db');
      if ((db && db !== s.dbid) || cursor > s.seq) {
        return reply(409, { type: 'x/sync-reset', reason: db && db !== s.dbid ? 'database-changed' : 'cursor-ahead', database_id: s.dbid });
      }
      const all = [...s.changes.entries()].filter(([, q]) => q > cursor).sort((a, b) => a[1] - b[1])
        .map(([k, q]) => ({ seq: q, ...s.records.get(k) })).filter((c) => c.type !== 'draft' || c.owner === account);
      const page = all.slice(0, limit).map(({ owner, ...c }) => c);
      const more = all.length > limit;
      return reply(200, { changes: page, cursor: more ? page[page.length - 1].seq : s.seq, has_more: more, database_id: s.dbid });
    }
    if (u.pathname === '/sync/blobs' && opts.method === 'POST') {
      const { sha256, size } = JSON.parse(opts.body);
      const b = s.blobs.get(sha256) || { size, bytes: 0, complete: false };
      s.blobs.set(sha256, b);
      return reply(b.bytes ? 200 : 201, { sha256, size, offset: b.bytes, complete: b.complete });
    }
    if (u.pathname.startsWith('/sync/blobs/') && opts.method === 'PATCH') {
      const b = s.blobs.get(u.pathname.split('/').pop());
      const off = Number(opts.headers['Upload-Offset']);
      if (off !== b.bytes) return reply(409, { type: 'x/offset-mismatch', offset: b.bytes });
      b.bytes += opts.body.size;
      if (s.cutAfterChunk) { s.cutAfterChunk = false; throw new TypeError('cut'); }
      b.complete = b.bytes === b.size;
      return reply(204, null, { 'Upload-Offset': String(b.bytes) });
    }
    if (u.pathname === '/api/conflicts') {
      // Newest first, paged by the last id seen (pageSize stands in for a small server limit).
      const before = u.searchParams.get('cursor') ? Number(u.searchParams.get('cursor')) : Infinity;
      const all = (s.conflicts || []).filter((c) => c.id < before).sort((a, b) => b.id - a.id);
      const n = Math.min(Number(u.searchParams.get('limit')) || 200, s.conflictPage || 1000);
      const items = all.slice(0, n);
      const more = all.length > n;
      s.conflictPages = (s.conflictPages || 0) + 1;
      return reply(200, { items, cursor: more ? items[items.length - 1].id : null, has_more: more });
    }
    return reply(404, {});
  };
  s.apply = (m, account) => {
    const prev = s.receipts.get(m.mutation_id);
    if (prev) return { ...prev, status: 'duplicate', original_status: prev.status };
    let r;
    if (m.kind === 'submission.create') {
      if (m.submission.answers.bad) r = { mutation_id: m.mutation_id, status: 'rejected', reason: 'invalid_answers', message: '入力内容を確認してください：通数', seq: s.seq, conflicts: [], result: {} };
      else {
        if (!s.submissions.has(m.entity.id)) s.submissions.set(m.entity.id, { ...m.submission, receipt_number: `2026-${String(s.submissions.size + 1).padStart(6, '0')}` });
        r = { mutation_id: m.mutation_id, status: 'applied', seq: s.seq, conflicts: [], result: { receipt_number: s.submissions.get(m.entity.id).receipt_number, status: 'received', missing_blobs: [], flags: [] } };
      }
    } else {
      const key = `${m.entity.type}/${m.entity.id}`;
      const rec = s.records.get(key) || { type: m.entity.type, id: m.entity.id, version: 0, deleted: false, data: {}, owner: account };
      const conflicts = [];
      if (m.kind === 'record.delete') rec.deleted = true;
      for (const [k, ch] of Object.entries(m.changes || {})) {
        if (!same(rec.data[k], ch.base) && !same(rec.data[k], ch.new) && s.review && s.review.includes(k)) {
          conflicts.push({ field: k, base: ch.base, server: rec.data[k], mine: ch.new, policy: 'review', outcome: 'server_kept', conflict_id: 7 });
          continue;
        }
        if (ch.new === null) delete rec.data[k]; else rec.data[k] = ch.new;
      }
      rec.version += 1;
      s.seq += 1;
      s.records.set(key, rec);
      s.changes.set(key, s.seq);
      r = { mutation_id: m.mutation_id, status: conflicts.length ? 'conflict' : 'applied', version: rec.version, seq: s.seq, conflicts, result: {} };
    }
    s.receipts.set(m.mutation_id, r);
    return r;
  };
  return s;
}

function device(server, account = 'acc-1', extra = {}) {
  const store = memStore();
  let now = Date.UTC(2026, 3, 1, 1, 0, 0);
  const env = { store, fetch: server.fetch(account), csrf: async () => 'tok', account: async () => account, now: () => (now += 1000), force: true, random: () => 0.5, ...extra };
  return { store, env, sync: () => syncNow(env) };
}

async function newDraft(store, id, answers, extra = {}) {
  await store.put('drafts', { id, kind: 'draft', submission_id: `sub-${id}`, procedure_id: 'juminhyo-copy', procedure_version: '1.0.0', title: { ja: '住民票' }, answers, raw: {}, prefilled: [], locked: [], typed: [], opened_at: '2026-04-01T10:00:00+09:00', updated_at: 0, ...extra });
}

async function editDraft(store, id, patch) {
  const d = await store.get('drafts', id);
  Object.assign(d.answers, patch);
  for (const [k, v] of Object.entries(patch)) if (v === null) delete d.answers[k];
  await store.put('drafts', d);
}

test('ids, clocks and equality follow the protocol', () => {
  const id = uuidv7(Date.UTC(2026, 0, 1), new Uint8Array(16));
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(uuidv7(Date.UTC(2026, 0, 2)) > id, 'UUIDv7 sorts by time');
  const a = hlcTick(null, 1775000000000, 'node');
  assert.equal(a.text, '1775000000000-0000-node');
  assert.equal(hlcTick(a, 1774000000000, 'node').text, '1775000000000-0001-node', 'a clock going back still moves forward');
  assert.ok(same(null, '') && same(undefined, null) && !same(0, null) && !same(1, true));
  assert.ok(same({ b: 1, a: [1, { y: 2, x: 1 }] }, { a: [1, { x: 1, y: 2 }], b: 1 }));
  assert.equal(canonicalJSON({ b: 1, a: 2 }), '{"a":2,"b":1}');
  for (let i = 0; i < 30; i++) assert.ok(backoffMs(i, () => 0.999) <= 300000);
  assert.equal(backoffMs(0, () => 0.5), 500);
  assert.deepEqual(Object.keys(buildMutation({ mutation_id: 'm', client_id: 'c', client_seq: 1, kind: 'draft.patch', entity: { type: 'draft', id: 'd' } })),
    ['mutation_id', 'client_id', 'client_seq', 'kind', 'entity', 'base_version'], 'no unknown or empty members');
});

test('receipts: per-item states and the global status', () => {
  assert.deepEqual(receiptState({ status: 'applied' }).state, 'sent');
  assert.deepEqual(receiptState({ status: 'merged' }).state, 'sent');
  assert.deepEqual(receiptState({ status: 'conflict', conflicts: [{ outcome: 'mine_applied' }] }).state, 'sent');
  assert.deepEqual(receiptState({ status: 'conflict', conflicts: [{ outcome: 'server_kept' }] }).state, 'needs_review');
  assert.deepEqual(receiptState({ status: 'duplicate', original_status: 'rejected', reason: 'case_closed', message: '完了済み' }), { state: 'failed', reason: 'case_closed', message: '完了済み' });
  const e = (type, state, rid = 'x', extra = {}) => ({ type, rid, state, ...extra });
  assert.deepEqual(summarize({}), { kind: 'ok', count: 0, reason: '' });
  assert.deepEqual(summarize({ entries: [e('draft', 'waiting')] }), { kind: 'ok', count: 0, reason: '' }, 'drafts sync quietly');
  assert.equal(summarize({ entries: [e('submission', 'waiting', 'a'), e('household', 'sending', 'h'), e('household', 'waiting', 'h')] }).count, 2);
  assert.deepEqual(summarize({ entries: [e('submission', 'waiting')], meta: { needs_signin: true } }), { kind: 'failed', count: 1, reason: 'auth' });
  assert.deepEqual(summarize({ attention: [e('submission', 'failed', 'a', { message: '入力内容を確認してください' })] }).reason, '入力内容を確認してください');
  assert.equal(summarize({ entries: [e('submission', 'sent')], blobs: [{ queued: true, uploaded: false, owners: ['a'] }] }).count, 1, 'files still uploading');
  assert.equal(summarize({ attention: [e('household', 'needs_review')] }).kind, 'ok', 'sent; waiting for a person, shown per item');
});

test('the view is the replica plus pending mutations; applied ones drop out when the cursor passes', () => {
  const m1 = buildMutation({ mutation_id: 'm1', client_id: 'c', client_seq: 1, kind: 'record.patch', entity: { type: 'household', id: 'h' }, changes: { phone: { base: '1', new: '2' } } });
  const m2 = buildMutation({ mutation_id: 'm2', client_id: 'c', client_seq: 2, kind: 'record.patch', entity: { type: 'household', id: 'h' }, set_ops: { members: { add: [{ id: 'm9', name: '花子' }], remove: ['m1'] } } });
  const rec = { version: 3, data: { phone: '1', members: [{ id: 'm1' }, { id: 'm2' }] } };
  const entries = [newEntry(m2), newEntry(m1)];
  assert.deepEqual(viewOf(rec, entries, 0), { phone: '2', members: [{ id: 'm2' }, { id: 'm9', name: '花子' }] });
  entries[1].receipt = { seq: 10 };
  entries[1].state = 'sent';
  assert.equal(viewOf(rec, entries, 10).phone, '1', 'past the cursor: the replica is authoritative');
  entries[0].state = 'needs_review';
  assert.equal(viewOf(rec, entries, 0).members.length, 2, 'a change waiting for review is not shown as applied');
});

test('a draft started on one device continues on another (same account), field by field', async () => {
  const server = fakeServer();
  const a = device(server);
  const b = device(server);
  await newDraft(a.store, 'd1', { relation: 'self', copies: 1 });
  await commitDraft(a.store, 'd1');
  const [entry] = await a.store.all('outbox');
  const m = JSON.parse(entry.body);
  assert.equal(m.kind, 'draft.patch');
  assert.deepEqual(m.entity, { type: 'draft', id: 'd1' });
  assert.equal(m.base_version, null);
  assert.deepEqual(m.changes.relation, { base: null, new: 'self' });
  assert.equal(m.changes.madoguchi.new.submission_id, 'sub-d1', 'the submission id travels with the draft');
  assert.equal((await a.sync()).kind, 'ok');
  assert.deepEqual(await a.store.all('outbox'), [], 'receipt and cursor >= seq: forgotten');

  await b.sync();
  const got = await b.store.get('drafts', 'd1');
  assert.deepEqual(got.answers, { relation: 'self', copies: 1 });
  assert.equal(got.submission_id, 'sub-d1');
  assert.equal(got.procedure_version, '1.0.0');

  // Both edit different answers (B offline for a while): both survive, on both devices.
  await editDraft(b.store, 'd1', { purpose: 'employment' });
  await commitDraft(b.store, 'd1');
  await editDraft(a.store, 'd1', { copies: 2 });
  await commitDraft(a.store, 'd1');
  await a.sync();
  await b.sync();
  await a.sync();
  for (const dev of [a, b]) assert.deepEqual((await dev.store.get('drafts', 'd1')).answers, { relation: 'self', copies: 2, purpose: 'employment' });
  const sent = JSON.parse(server.bodies.at(-1)).mutations[0];
  assert.deepEqual(sent.changes, { purpose: { base: null, new: 'employment' } }, 'only what changed, with the value the user saw');
  assert.equal(sent.base_version, 1);
});

test('edits while offline extend the unsent entry; an uncommitted edit survives a pull', async () => {
  const server = fakeServer();
  const a = device(server);
  await newDraft(a.store, 'd2', { copies: 1 });
  await commitDraft(a.store, 'd2');
  await editDraft(a.store, 'd2', { copies: 3, purpose: 'x' });
  await commitDraft(a.store, 'd2');
  const out = await a.store.all('outbox');
  assert.equal(out.length, 1, 'one entry for the record until it is sent');
  assert.deepEqual(JSON.parse(out[0].body).changes.copies, { base: null, new: 3 });
  await a.sync();
  // Another device changes purpose; this one has typed copies=4 but not committed yet.
  const b = device(server);
  await b.sync();
  await editDraft(b.store, 'd2', { purpose: 'other' });
  await commitDraft(b.store, 'd2');
  await b.sync();
  await editDraft(a.store, 'd2', { copies: 4 });
  await pullAll(a.env);
  const d = await a.store.get('drafts', 'd2');
  assert.deepEqual(d.answers, { copies: 4, purpose: 'other' });
  assert.equal(d.seen.copies, 3, 'the base of the pending edit is still what the user saw');
});

test('a lost acknowledgement is retried with identical bytes and applied once', async () => {
  const server = fakeServer();
  const a = device(server);
  await enqueue(a.store, { kind: 'record.patch', type: 'household', id: 'h1', changes: { phone: { base: null, new: '03-1111-2222' } }, label: { kind: 'household', title: '世帯' } });
  server.drop = 1;
  const s1 = await a.sync();
  assert.equal(s1.kind, 'waiting');
  const [e] = await a.store.all('outbox');
  assert.equal(e.state, 'waiting');
  assert.equal(e.attempts, 1);
  assert.equal((await a.store.get('meta', 'backoff')).value.attempt, 1);
  assert.equal((await a.sync()).kind, 'ok');
  assert.equal(server.bodies[0], server.bodies[1], 'the same bytes');
  assert.equal(server.records.get('household/h1').version, 1, 'one effect');
  assert.deepEqual(await a.store.all('outbox'), []);
  const rec = await a.store.get('replica', 'household/h1');
  assert.equal(rec.data.phone, '03-1111-2222');
});

test('the outbox is forgotten only after receipt AND cursor >= receipt.seq', async () => {
  const server = fakeServer();
  const a = device(server);
  await enqueue(a.store, { kind: 'record.patch', type: 'household', id: 'h2', changes: { notes: { base: null, new: 'x' } } });
  assert.equal(await pushOnce(a.env), 1);
  const [e] = await a.store.all('outbox');
  assert.equal(e.state, 'sent');
  assert.equal(e.receipt.seq, 1);
  await applyPage(a.store, { changes: [], cursor: 0, has_more: false });
  assert.equal((await a.store.all('outbox')).length, 1, 'cursor behind the receipt: kept');
  await pullAll(a.env);
  assert.equal((await a.store.all('outbox')).length, 0);
});

test('a replaced or restored database: the device drops replica and cursor, keeps its outbox, re-pulls', async () => {
  const a = fakeServer('db-A');
  const dev = device(a);
  await enqueue(dev.store, { kind: 'record.patch', type: 'household', id: 'h1', changes: { notes: { base: null, new: 'one' } } });
  await enqueue(dev.store, { kind: 'record.patch', type: 'household', id: 'h2', changes: { notes: { base: null, new: 'two' } } });
  await dev.sync();
  assert.equal(await dev.store.get('meta', 'database_id').then((r) => r.value), 'db-A');
  assert.equal((await dev.store.all('replica')).length, 2);

  // Replaced by database B (its own records, another id): B's records only, and the device's pull named A.
  const b = fakeServer('db-B');
  b.apply({ mutation_id: 'm-b', kind: 'record.patch', entity: { type: 'household', id: 'hb' }, changes: { notes: { base: null, new: 'B' } } }, 'acc-1');
  dev.env.fetch = b.fetch('acc-1');
  await enqueue(dev.store, { kind: 'record.patch', type: 'household', id: 'h3', changes: { notes: { base: null, new: 'three' } } });
  // Pushed to B, but not yet pulled: after the reset it is sent again (B answers duplicate).
  assert.equal(await pushOnce(dev.env), 1);
  assert.equal((await dev.store.all('outbox'))[0].state, 'sent');
  assert.equal((await dev.sync()).kind, 'ok');
  const keys = (await dev.store.all('replica')).map((r) => r.key).sort();
  assert.deepEqual(keys, ['household/h3', 'household/hb'], "A's records are gone, B's are there");
  assert.equal(await dev.store.get('meta', 'database_id').then((r) => r.value), 'db-B');
  assert.deepEqual(await dev.store.all('outbox'), []);
  assert.ok(b.bodies.filter((x) => x.includes('"h3"')).length === 2, 'the acknowledged entry was queued again');

  // Restored older copy of B (same id, lower high-water mark): the cursor is ahead, the device starts over.
  const restored = fakeServer('db-B');
  restored.apply({ mutation_id: 'm-b', kind: 'record.patch', entity: { type: 'household', id: 'hb' }, changes: { notes: { base: null, new: 'B' } } }, 'acc-1');
  dev.env.fetch = restored.fetch('acc-1');
  await dev.sync();
  assert.deepEqual((await dev.store.all('replica')).map((r) => r.key), ['household/hb']);
  assert.equal(await dev.store.get('meta', 'cursor').then((r) => r.value), 1);
});

test('a change waiting for review moves to attention and leaves it when a person decides', async () => {
  const server = fakeServer();
  server.review = ['birth_date'];
  const a = device(server);
  const b = device(server);
  await enqueue(a.store, { kind: 'record.patch', type: 'resident', id: 'r1', changes: { birth_date: { base: null, new: '1948-11-03' } } });
  await a.sync();
  await b.sync();
  await enqueue(a.store, { kind: 'record.patch', type: 'resident', id: 'r1', changes: { birth_date: { base: '1948-11-03', new: '1948-11-04' } } });
  await enqueue(b.store, { kind: 'record.patch', type: 'resident', id: 'r1', changes: { birth_date: { base: '1948-11-03', new: '1948-12-03' } } });
  await a.sync();
  await b.sync();
  const [att] = await b.store.all('attention');
  assert.equal(att.state, 'needs_review');
  const [rec] = await recordsOfType(b.store, 'resident');
  assert.equal(rec.data.birth_date, '1948-11-04', 'the server value stays until someone decides');
  assert.equal(rec.review.length, 1);
  // The decided conflict is on the third page of the list (newer ones come first): the device reads them all.
  server.conflicts = [{ id: 7, status: 'resolved' }, { id: 8, status: 'open' }, { id: 9, status: 'open' }];
  server.conflictPage = 1;
  server.conflictPages = 0;
  await b.sync();
  assert.ok(server.conflictPages >= 3, 'every page was asked for');
  assert.deepEqual(await b.store.all('attention'), []);
});

test('401 keeps everything and asks to sign in; the same account then resumes', async () => {
  const server = fakeServer();
  const a = device(server);
  await queueSubmission(a.store, { submission_id: 's1', submission: { procedure_id: 'p', procedure_version: '1', answers: { x: 1 }, attachments: [] }, label: { kind: 'submission', title: 'p' } });
  server.expired.add('acc-1');
  const s = await a.sync();
  assert.deepEqual(s, { kind: 'failed', count: 1, reason: 'auth' });
  assert.equal((await a.store.all('outbox'))[0].state, 'waiting');
  server.expired.clear();
  assert.equal((await a.sync()).kind, 'ok');
  assert.equal(server.submissions.size, 1);
  assert.equal((await a.store.get('submissions', 's1')).receipt_number, '2026-000001');
});

test('another account on the device: the outbox is not sent under it (kept, exportable)', async () => {
  const server = fakeServer();
  const a = device(server);
  await a.store.put('meta', { key: 'owner', value: 'someone-else' });
  await enqueue(a.store, { kind: 'record.patch', type: 'household', id: 'h3', changes: { phone: { base: null, new: '1' } } });
  const s = await a.sync();
  assert.deepEqual([s.kind, s.reason], ['failed', 'account']);
  assert.equal(server.bodies.length, 0);
  const doc = JSON.parse(await exportOutbox(a.store));
  assert.equal(doc.format, 'madoguchi-outbox');
  assert.equal(doc.account_id, 'someone-else');
  assert.deepEqual(doc.entries[0].mutation.entity, { type: 'household', id: 'h3' });
  assert.equal(doc.entries[0].state, 'waiting');
});

test('another account on a device with nothing queued: its own client id (client ids are bound to one account)', async () => {
  const server = fakeServer();
  const a = device(server);
  await enqueue(a.store, { kind: 'record.patch', type: 'household', id: 'h4', changes: { phone: { base: null, new: '1' } } });
  await a.sync();
  const first = await clientId(a.store);
  await a.store.put('meta', { key: 'owner', value: 'someone-else' }); // someone else used the device before
  await a.sync();
  await enqueue(a.store, { kind: 'record.patch', type: 'household', id: 'h4', changes: { phone: { base: '1', new: '2' } } });
  await a.sync();
  const mine = JSON.parse(server.bodies.at(-1)).mutations[0];
  assert.notEqual(mine.client_id, first);
  assert.equal(mine.client_seq, 1);
  assert.equal(await clientId(a.store), mine.client_id);
});

test('a client id the server says is another account\'s is replaced for later changes', async () => {
  const server = fakeServer();
  const a = device(server, 'acc-1', {
    fetch: async (url, opts) => {
      const muts = JSON.parse(opts.body).mutations;
      return reply(200, { receipts: muts.map((m) => ({ mutation_id: m.mutation_id, status: 'rejected', reason: 'client_id_bound', message: '別のアカウント' })) });
    },
  });
  await enqueue(a.store, { kind: 'record.patch', type: 'household', id: 'h5', changes: { phone: { base: null, new: '1' } } });
  const old = await clientId(a.store);
  await pushOnce(a.env);
  assert.equal((await a.store.all('outbox'))[0].reason, 'client_id_bound');
  assert.notEqual(await clientId(a.store), old);
});

test('submitting: exactly once, the draft goes away everywhere on the receipt and comes back on a rejection', async () => {
  const server = fakeServer();
  const a = device(server);
  const b = device(server);
  await newDraft(a.store, 'd3', { copies: 1 });
  await commitDraft(a.store, 'd3');
  await a.sync();
  await b.sync();
  assert.ok(await b.store.get('drafts', 'd3'));
  const sub = { procedure_id: 'juminhyo-copy', procedure_version: '1.0.0', answers: { copies: 1 }, attachments: [], telemetry: { procedure_id: 'juminhyo-copy', procedure_version: '1.0.0', fields_typed: 1, fields_prefilled: 0 } };
  await queueSubmission(a.store, { submission_id: 'sub-d3', submission: sub, label: { kind: 'submission', title: '住民票' }, draft_id: 'd3' });
  assert.equal((await a.store.get('drafts', 'd3')).submitted_as, 'sub-d3', 'hidden until the receipt');
  assert.deepEqual(await syncSummary(a.store), { kind: 'waiting', count: 1, reason: '' });
  await a.sync();
  assert.equal(await a.store.get('drafts', 'd3'), undefined);
  assert.equal(server.records.get('draft/d3').deleted, true);
  await b.sync();
  assert.equal(await b.store.get('drafts', 'd3'), undefined, 'gone from the other device too');
  // B submits the same draft id again (it had it open): the server answers with the same submission.
  await queueSubmission(b.store, { submission_id: 'sub-d3', submission: sub, label: { kind: 'submission', title: '住民票' } });
  await b.sync();
  assert.equal(server.submissions.size, 1);

  await newDraft(a.store, 'd4', { bad: true });
  await commitDraft(a.store, 'd4');
  await queueSubmission(a.store, { submission_id: 'sub-d4', submission: { ...sub, answers: { bad: true } }, label: { kind: 'submission', title: '住民票' }, draft_id: 'd4' });
  const s = await a.sync();
  assert.deepEqual([s.kind, s.reason], ['failed', '入力内容を確認してください：通数']);
  const back = await a.store.get('drafts', 'd4');
  assert.equal(back.submitted_as, null);
  assert.match(back.error, /通数/);
  // Corrected and sent again under the same submission id: the failure is replaced.
  await queueSubmission(a.store, { submission_id: 'sub-d4', submission: sub, label: { kind: 'submission', title: '住民票' }, draft_id: 'd4' });
  assert.equal((await a.sync()).kind, 'ok');
});

test('deleting a draft that never reached the server queues nothing', async () => {
  const server = fakeServer();
  const a = device(server);
  await newDraft(a.store, 'd5', { copies: 1 });
  await commitDraft(a.store, 'd5');
  await deleteDraft(a.store, 'd5');
  assert.deepEqual(await a.store.all('outbox'), []);
  await newDraft(a.store, 'd6', { copies: 1 });
  await commitDraft(a.store, 'd6');
  await a.sync();
  await deleteDraft(a.store, 'd6');
  const [del] = await a.store.all('outbox');
  assert.equal(JSON.parse(del.body).kind, 'record.delete');
  assert.equal(JSON.parse(del.body).base_version, 1);
});

test('files upload on their own queue and resume at the server offset', async () => {
  const server = fakeServer();
  const a = device(server);
  const bytes = new Uint8Array(600 * 1024).fill(7);
  await a.store.put('blobs', { sha256: 'ab'.repeat(32), blob: new Blob([bytes]), type: 'image/jpeg', name: 'a.jpg', size: bytes.length, uploaded: false });
  await queueSubmission(a.store, { submission_id: 's9', submission: { procedure_id: 'p', procedure_version: '1', answers: {}, attachments: ['ab'.repeat(32)] }, label: null, blobs: ['ab'.repeat(32)] });
  server.cutAfterChunk = true; // the connection dies after the first chunk reached the server
  const s1 = await a.sync();
  assert.deepEqual([s1.kind, s1.count], ['waiting', 1], 'stored, but its file is still on the way');
  assert.equal(server.submissions.size, 1, 'data first: the submission did not wait for its file');
  assert.equal((await a.store.get('blobs', 'ab'.repeat(32))).offset, 0);
  assert.equal((await a.sync()).kind, 'ok');
  const b = server.blobs.get('ab'.repeat(32));
  assert.equal(b.bytes, bytes.length, 'resumed from the offset the server reported, no byte sent twice');
  assert.equal((await a.store.get('blobs', 'ab'.repeat(32))).uploaded, true);
});

test('draft records: fields, local copies and merge', () => {
  const d = { id: 'x', kind: 'draft', procedure_id: 'p', procedure_version: '2', title: { ja: 'T' }, submission_id: 's', answers: { a: 1 }, retired: { old: 'kept' }, raw: { a: '1' } };
  const f = draftFields(d);
  assert.deepEqual(f.a, 1);
  assert.equal(f.old, 'kept', 'answers of removed fields stay in the record');
  assert.equal(f.raw, undefined, 'raw input stays on the device');
  const back = draftFromFields('x', f, null, 5);
  assert.deepEqual(back.answers, { a: 1, old: 'kept' });
  assert.equal(back.title.ja, 'T');
  const bundle = draftFields({ id: 'b', kind: 'bundle', event_id: 'ev', event_version: '1.0.0', shared: { addr: 'x' }, drafts: ['p1'], questions: { is_public_servant: false } });
  assert.deepEqual(draftFromFields('b', bundle).drafts, ['p1']);
  // The question answers travel with the bundle (another device fills the same fields from them), apart from the shared answers.
  assert.deepEqual(draftFromFields('b', bundle).questions, { is_public_servant: false });
  assert.deepEqual(draftFromFields('b', bundle).shared, { addr: 'x' });
  assert.deepEqual(draftFromFields('b', draftFields({ id: 'b', kind: 'bundle', event_id: 'ev', drafts: [] })).questions, {});
  const local = { ...back, seen: structuredClone(f) };
  local.answers.a = 9; // not committed yet
  const merged = mergeDraft(local, { ...f, a: 2, b: 3 });
  assert.deepEqual([merged.answers.a, merged.answers.b, merged.seen.a], [9, 3, 1]);
});

test('items of the first outbox (before sync) become submission.create under the same id', async () => {
  const store = memStore();
  await store.put('outbox', { id: 'old-1', body: JSON.stringify({ id: 'old-1', procedure_id: 'p', procedure_version: '1', answers: { a: 1 }, on_behalf_of: 'R1' }), state: 'pending', attachments: [], telemetry: { procedure_id: 'p', procedure_version: '1', fields_typed: 1, fields_prefilled: 0 }, created_at: 0, title: 'T' });
  await store.put('outbox', { id: 'old-2', body: '{"id":"old-2"}', state: 'sent', receipt: { id: 'old-2', receipt_number: 'R-2' }, title: 'U' });
  assert.equal(await migrateLegacyOutbox(store, { now: 1 }), 1);
  const [e] = await store.all('outbox');
  const m = JSON.parse(e.body);
  assert.equal(m.kind, 'submission.create');
  assert.deepEqual(m.entity, { type: 'submission', id: 'old-1' });
  assert.equal(m.submission.on_behalf_of, 'R1');
  assert.equal(m.submission.telemetry.acknowledged_at, '1970-01-01T00:00:00.000Z');
  assert.equal((await store.get('submissions', 'old-2')).receipt_number, 'R-2');
  assert.equal(await migrateLegacyOutbox(store), 0, 'once');
  assert.ok(await clientId(store));
});
