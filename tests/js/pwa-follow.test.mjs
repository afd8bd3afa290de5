// Following an application on the device: replies to 追加情報が必要 queued offline and sent exactly once
// (pwa/js/sync.js queueResponse, docs/sync.md "Replies to a request for information"), what counts as news
// since last seen (pwa/js/statuses.js mergeStatus) and times in JST.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queueSubmission, queueResponse, syncNow } from '../../pwa/js/sync.js';
import { mergeStatus, jst } from '../../pwa/js/statuses.js';
import { syncSummary } from '../../pwa/js/syncstate.js';
import { memStore } from './memstore.mjs';

function reply(status, body) {
  return { status, ok: status >= 200 && status < 300, json: async () => body, headers: { get: () => null } };
}

/** Enough of the server: submissions, replies stored once under their id, receipts per mutation id. */
function fakeServer() {
  const s = { down: false, drop: 0, receipts: new Map(), subs: new Map(), replies: new Map(), blobs: new Map(), seq: 0 };
  s.fetch = async (url, opts = {}) => {
    if (s.down) throw new TypeError('Failed to fetch');
    const u = new URL(url, 'http://x');
    if (u.pathname === '/sync/push') {
      const receipts = JSON.parse(opts.body).mutations.map((m) => {
        const prev = s.receipts.get(m.mutation_id);
        if (prev) return { ...prev, status: 'duplicate', original_status: prev.status };
        let r;
        if (m.kind === 'submission.create') {
          s.subs.set(m.entity.id, { status: 'needs_info' });
          r = { mutation_id: m.mutation_id, status: 'applied', seq: s.seq, conflicts: [], result: { receipt_number: '2026-000001', status: 'received' } };
        } else {
          assert.equal(m.kind, 'submission.respond');
          if (s.rejectReplies) {
            s.rejectReplies -= 1;
            r = { mutation_id: m.mutation_id, status: 'rejected', reason: 'invalid', message: 'コメントを入力してください' };
            s.receipts.set(m.mutation_id, r);
            return r;
          }
          const created = !s.replies.has(m.response.id);
          if (created) s.replies.set(m.response.id, { submission: m.entity.id, ...m.response });
          s.subs.get(m.entity.id).status = 'in_review';
          r = { mutation_id: m.mutation_id, status: 'applied', seq: s.seq, conflicts: [], result: { response_id: m.response.id, status: 'in_review', created } };
        }
        s.receipts.set(m.mutation_id, r);
        return r;
      });
      if (s.drop > 0) { s.drop -= 1; throw new TypeError('connection reset'); } // committed, answer lost
      return reply(200, { receipts });
    }
    if (u.pathname === '/sync/pull') return reply(200, { changes: [], cursor: s.seq, has_more: false, database_id: 'db' });
    if (u.pathname === '/sync/blobs') {
      const { sha256, size } = JSON.parse(opts.body);
      s.blobs.set(sha256, { size, bytes: 0 });
      return reply(201, { sha256, size, offset: 0, complete: false });
    }
    if (u.pathname.startsWith('/sync/blobs/')) {
      const b = s.blobs.get(u.pathname.split('/').pop());
      b.bytes += opts.body.size;
      return { status: 204, ok: true, json: async () => null, headers: { get: (h) => (h === 'Upload-Offset' ? String(b.bytes) : null) } };
    }
    if (u.pathname === '/api/conflicts') return reply(200, { items: [], cursor: null, has_more: false });
    return reply(404, {});
  };
  return s;
}

test('a reply written offline is queued with its file and sent exactly once when back online', async () => {
  const server = fakeServer();
  const store = memStore();
  let now = Date.UTC(2026, 11, 6, 1, 0, 0);
  const env = { store, fetch: server.fetch, csrf: async () => 'tok', account: async () => 'acc-1', now: () => (now += 1000), force: true, random: () => 0.5 };
  await queueSubmission(store, { submission_id: 's1', submission: { procedure_id: 'p', procedure_version: '1', answers: {}, attachments: [] }, label: { kind: 'submission', title: 'p' } });
  assert.equal((await syncNow(env)).kind, 'ok');
  server.down = true; // offline: the resident answers anyway
  const bytes = new Uint8Array([1, 2, 3]);
  await store.put('blobs', { sha256: 'a'.repeat(64), blob: new Blob([bytes]), type: 'image/png', name: 'id.png', uploaded: false });
  const response = { id: 'r-1', comment: '住民票を添付しました', files: [{ sha256: 'a'.repeat(64), size: 3, name: 'id.png', type: 'image/png' }] };
  await queueResponse(store, { submission_id: 's1', response, label: { kind: 'submission', title: 'p' }, blobs: ['a'.repeat(64)] });
  assert.notEqual((await syncNow(env)).kind, 'ok');
  const [entry] = (await store.all('outbox')).filter((e) => e.kind === 'submission.respond');
  assert.equal(entry.state, 'waiting');
  assert.deepEqual(JSON.parse(entry.body).response, response);
  assert.deepEqual(JSON.parse(entry.body).entity, { type: 'submission', id: 's1' });
  server.down = false;
  server.drop = 1; // stored, but the answer is lost: the retry must not store it twice
  await syncNow(env).catch(() => {});
  await syncNow(env);
  assert.equal(server.replies.size, 1);
  assert.equal(server.blobs.get('a'.repeat(64)).bytes, 3);
  const mine = await store.get('submissions', 's1');
  assert.equal(mine.status, 'in_review');
  // The list then says in_review with a newer updated_at: the resident's own doing, not news.
  assert.equal(mergeStatus({ ...mine, seen_updated_at: 't1' }, { id: 's1', status: 'in_review', updated_at: 't2' }).changed, false);
});

test('a reply sent again after it failed replaces the failed one: no 送信失敗 left behind', async () => {
  const server = fakeServer();
  const store = memStore();
  let now = Date.UTC(2026, 11, 6, 1, 0, 0);
  const env = { store, fetch: server.fetch, csrf: async () => 'tok', account: async () => 'acc-1', now: () => (now += 1000), force: true, random: () => 0.5 };
  await queueSubmission(store, { submission_id: 's1', submission: { procedure_id: 'p', procedure_version: '1', answers: {}, attachments: [] }, label: { kind: 'submission', title: 'p' } });
  assert.equal((await syncNow(env)).kind, 'ok');
  server.rejectReplies = 1;
  await queueResponse(store, { submission_id: 's1', response: { id: 'r-1', comment: '' }, label: { kind: 'submission', title: 'p' } });
  await syncNow(env);
  const failed = async () => [...await store.all('outbox'), ...await store.all('attention')].filter((e) => e.kind === 'submission.respond' && e.state === 'failed');
  assert.equal((await failed()).length, 1);
  assert.equal((await syncSummary(store)).kind, 'failed');
  await queueResponse(store, { submission_id: 's1', response: { id: 'r-2', comment: '住民票を添付しました' }, label: { kind: 'submission', title: 'p' } });
  assert.equal((await failed()).length, 0);
  assert.equal((await syncNow(env)).kind, 'ok');
  assert.equal((await syncSummary(store)).kind, 'ok');
  assert.deepEqual([...server.replies.keys()], ['r-2']);
  // The submission's own entries are another kind: a failed reply never removes them, nor they it.
  assert.equal((await store.get('submissions', 's1')).status, 'in_review');
});

test('news since last seen: a status that moved on, until its page is shown', () => {
  const row = { id: 's1', receipt_number: '2026-000001', status: 'received', updated_at: '2026-12-06T01:00:00.000+00:00' };
  const fresh = mergeStatus(undefined, row); // a new phone: nothing is news
  assert.equal(fresh.changed, false);
  const moved = mergeStatus(fresh, { ...row, status: 'needs_info', updated_at: '2026-12-06T02:00:00.000+00:00' });
  assert.equal(moved.changed, true);
  assert.equal(mergeStatus(moved, { ...row, status: 'needs_info', updated_at: '2026-12-06T02:00:00.000+00:00' }).changed, true);
  const seen = { ...moved, seen_updated_at: moved.updated_at, changed: false };
  assert.equal(mergeStatus(seen, { ...row, status: 'needs_info', updated_at: moved.updated_at }).changed, false);
  // Filed on this device (a receipt without seen_updated_at): news once the status differs, and it stays news.
  const local = { id: 's1', receipt_number: '2026-000001', status: 'received' };
  const after = mergeStatus(local, { ...row, status: 'in_review' });
  assert.equal(after.changed, true);
  assert.equal(mergeStatus(after, { ...row, status: 'in_review' }).changed, true);
  assert.equal(mergeStatus(local, row).changed, false);
});

test('times are shown in Japan time whatever the zone', () => {
  assert.match(jst('2026-12-06T15:30:00.000+00:00', 'ja'), /2026\/12\/07 0:30|2026\/12\/07 00:30/);
  assert.match(jst('2026-12-06T15:30:00.000+00:00', 'en'), /7 Dec 2026.*00:30/);
  assert.equal(jst('not a date'), '');
  // The date alone is the Japan day (20:28 UTC is already the next day), and the zone is said where asked.
  assert.equal(jst('2026-12-06T20:28:00+00:00', 'ja', { time: false }), '2026/12/07');
  assert.equal(jst(Date.parse('2026-12-06T20:28:00Z'), 'en', { time: false }), '7 Dec 2026');
  assert.match(jst('2026-12-06T20:28:00Z', 'ja', { zone: true }), /^2026\/12\/07 0?5:28（日本時間）$/);
  assert.match(jst('2026-12-06T20:28:00Z', 'en', { zone: true }), /05:28 \(Japan time\)$/);
  assert.equal(jst(null), '');
});
