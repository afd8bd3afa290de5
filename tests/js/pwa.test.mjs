// Pure modules of the resident app (no DOM): outbox, finder, paths, life events, passkey encoding, i18n.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, summarizeOutbox, classifyResponse, makeOutboxItem, attachmentRefs, flushOutbox, requestBody } from '../../pwa/js/outbox.js';
import { searchProcedures, fold } from '../../pwa/js/finder.js';
import { parsePath, getPath, setPath, isShown, valueAt, fieldPath } from '../../pwa/js/paths.js';
import { applicableProcedures, visibleQuestions, copyShared, mappedFields, documentsFor, mergeDocuments, sharedSource } from '../../pwa/js/lifeevent.js';
import { b64urlEncode, b64urlDecode, parseCreationOptions, parseRequestOptions, unwrapOptions } from '../../pwa/js/webauthn.js';
import { t, tx, setLang, initialLang, htmlLang, STRINGS, LANGS } from '../../pwa/js/i18n.js';
import { readCookie } from '../../pwa/js/api.js';
import { evaluate } from '../../pwa/js/expr.js';

function memStore() {
  const data = { outbox: new Map(), blobs: new Map(), submissions: new Map(), meta: new Map() };
  const key = { outbox: 'id', blobs: 'sha256', submissions: 'id', meta: 'key' };
  return {
    data,
    all: async (s) => [...data[s].values()].map((v) => structuredClone(v)),
    get: async (s, k) => (data[s].has(k) ? structuredClone(data[s].get(k)) : undefined),
    put: async (s, v) => { data[s].set(v[key[s]], structuredClone(v)); },
    delete: async (s, k) => { data[s].delete(k); },
  };
}

function reply(status, body) {
  return { status, ok: status < 300, json: async () => body };
}

const item = (id, now = 0) => makeOutboxItem({ id, procedure_id: 'juminhyo-copy', procedure_version: '1.0.0', answers: { copies: 1 }, now });

test('backoff grows exponentially and is capped', () => {
  assert.equal(backoffMs(1), 2000);
  assert.equal(backoffMs(2), 4000);
  assert.equal(backoffMs(5), 32000);
  assert.equal(backoffMs(100), 15 * 60 * 1000);
});

test('summary: all sent, N waiting, failed with reason', () => {
  assert.deepEqual(summarizeOutbox([]), { kind: 'ok', count: 0, reason: '' });
  assert.equal(summarizeOutbox([{ state: 'sent' }, { state: 'pending' }]).count, 1);
  assert.equal(summarizeOutbox([{ state: 'pending' }, { state: 'failed', error: 'bad' }]).kind, 'failed');
  assert.equal(summarizeOutbox([{ state: 'failed', error: 'bad' }]).reason, 'bad');
});

test('response classes', () => {
  assert.equal(classifyResponse(201), 'sent');
  assert.equal(classifyResponse(200), 'sent');
  assert.equal(classifyResponse(401), 'auth');
  assert.equal(classifyResponse(503), 'retry');
  assert.equal(classifyResponse(429), 'retry');
  assert.equal(classifyResponse(422), 'reject');
});

test('outbox item body is frozen and carries the idempotency key', () => {
  const it = makeOutboxItem({ id: 'u1', procedure_id: 'p', procedure_version: '1.0.0', answers: { a: 1 }, on_behalf_of: 'R1', now: 5 });
  assert.deepEqual(JSON.parse(it.body), { id: 'u1', procedure_id: 'p', procedure_version: '1.0.0', answers: { a: 1 }, on_behalf_of: 'R1' });
  assert.equal(it.state, 'pending');
});

test('attachment references are found anywhere in the answers', () => {
  const ref = { sha256: 'ab', name: 'x.png', size: 3, type: 'image/png' };
  assert.deepEqual(attachmentRefs({ a: [ref], g: [{ f: [ref, { ...ref, sha256: 'cd' }] }], n: { family: 'x' } }).sort(), ['ab', 'cd']);
});

test('offline: items stay pending with backoff; back online they are sent once with the same body', async () => {
  const store = memStore();
  await store.put('outbox', item('a'));
  let now = 1000;
  const offline = async () => { throw new TypeError('Failed to fetch'); };
  let s = await flushOutbox({ store, fetch: offline, csrf: async () => 'tok', now: () => now });
  assert.deepEqual(s, { kind: 'waiting', count: 1, reason: '' });
  const it = await store.get('outbox', 'a');
  assert.equal(it.attempts, 1);
  assert.equal(it.next_at, 1000 + 2000);
  // Not due yet: no request.
  const sent = [];
  const server = async (url, opts) => { sent.push([url, opts]); return reply(sent.length === 1 ? 201 : 200, { id: 'a', receipt_number: 'R-1', status: 'received' }); };
  s = await flushOutbox({ store, fetch: server, csrf: async () => 'tok', now: () => now });
  assert.equal(sent.length, 0);
  now = 5000;
  s = await flushOutbox({ store, fetch: server, csrf: async () => 'tok', now: () => now });
  assert.equal(s.kind, 'ok');
  assert.equal(sent.length, 1);
  assert.equal(sent[0][0], '/api/submissions');
  assert.equal(sent[0][1].headers['X-CSRF-Token'], 'tok');
  assert.equal(sent[0][1].body, (await store.get('outbox', 'a')).body);
  assert.equal((await store.get('submissions', 'a')).receipt_number, 'R-1');
  // A further flush sends nothing.
  await flushOutbox({ store, fetch: server, csrf: async () => 'tok', now: () => now, force: true });
  assert.equal(sent.length, 1);
});

test('a lost response is retried with the identical body (the server answers 200 with the same receipt)', async () => {
  const store = memStore();
  await store.put('outbox', item('b'));
  const bodies = [];
  let n = 0;
  const flaky = async (url, opts) => {
    if (url !== '/api/submissions') return reply(204, null);
    bodies.push(opts.body);
    n += 1;
    if (n === 1) throw new TypeError('connection reset'); // the server got it, the answer was lost
    return reply(200, { id: 'b', receipt_number: 'R-2', status: 'received' });
  };
  await flushOutbox({ store, fetch: flaky, csrf: async () => 't', now: () => 0 });
  await flushOutbox({ store, fetch: flaky, csrf: async () => 't', now: () => 10 ** 9 });
  assert.equal(bodies.length, 2);
  assert.equal(bodies[0], bodies[1]);
  assert.equal((await store.get('outbox', 'b')).state, 'sent');
});

test('rejections and sign-in failures are reported, not retried automatically', async () => {
  const store = memStore();
  await store.put('outbox', item('c'));
  const f422 = async () => reply(422, { title: 'Invalid', detail: '通数を確認してください', errors: [] });
  let s = await flushOutbox({ store, fetch: f422, csrf: async () => 't', now: () => 0 });
  assert.equal(s.kind, 'failed');
  assert.match(s.reason, /通数/);
  let calls = 0;
  const ok = async () => { calls += 1; return reply(201, { id: 'c', receipt_number: 'R' }); };
  await flushOutbox({ store, fetch: ok, csrf: async () => 't', now: () => 10 ** 9 });
  assert.equal(calls, 0, 'failed items wait for the retry button');
  s = await flushOutbox({ store, fetch: ok, csrf: async () => 't', now: () => 10 ** 9, force: true });
  assert.equal(calls, 1);
  assert.equal(s.kind, 'ok');
  await store.put('outbox', item('d'));
  s = await flushOutbox({ store, fetch: async () => reply(401, {}), csrf: async () => 't', now: () => 0 });
  assert.deepEqual([s.kind, s.reason], ['failed', 'auth']);
});

test('attachments are uploaded before the submission, once', async () => {
  const store = memStore();
  const it = makeOutboxItem({ id: 'e', procedure_id: 'p', procedure_version: '1', answers: {}, attachments: ['ff'], now: 0 });
  await store.put('outbox', it);
  await store.put('blobs', { sha256: 'ff', blob: 'BLOB', type: 'image/png', uploaded: false });
  const urls = [];
  const f = async (url, opts) => { urls.push([url, opts.headers['Content-Type']]); return reply(201, url.endsWith('attachments') ? { sha256: 'ff' } : { id: 'e', receipt_number: 'R' }); };
  await flushOutbox({ store, fetch: f, csrf: async () => 't', now: () => 0 });
  assert.deepEqual(urls, [['/api/attachments', 'image/png'], ['/api/submissions', 'application/json']]);
  assert.equal((await store.get('blobs', 'ff')).uploaded, true);
});

test('telemetry rides in the submission request, outside the frozen answers, and is never posted alone', async () => {
  const store = memStore();
  const telemetry = { procedure_id: 'p', procedure_version: '1', opened_at: '2026-01-01T00:00:00Z', fields_typed: 3, fields_prefilled: 2 };
  const it = makeOutboxItem({ id: 'g', procedure_id: 'p', procedure_version: '1', answers: { name: '山田' }, telemetry, now: 0 });
  await store.put('outbox', it);
  const posted = [];
  let n = 0;
  const f = async (url, opts) => {
    posted.push([url, opts.body]);
    n += 1;
    if (n === 1) throw new TypeError('connection reset'); // stored by the server, answer lost
    return reply(200, { id: 'g', receipt_number: 'R' });
  };
  await flushOutbox({ store, fetch: f, csrf: async () => 't', now: () => Date.UTC(2026, 0, 1, 0, 1) });
  await flushOutbox({ store, fetch: f, csrf: async () => 't', now: () => Date.UTC(2026, 0, 1, 0, 2), force: true });
  assert.deepEqual(posted.map(([url]) => url), ['/api/submissions', '/api/submissions']);
  const [first, second] = posted.map(([, body]) => JSON.parse(body));
  // The idempotent part is identical; only the attempt time differs (the server ignores it on a retry).
  const { telemetry: t1, ...rest1 } = first;
  const { telemetry: t2, ...rest2 } = second;
  assert.deepEqual(rest1, JSON.parse(it.body));
  assert.deepEqual(rest2, rest1);
  assert.equal(t1.acknowledged_at, '2026-01-01T00:01:00.000Z');
  assert.equal(t2.acknowledged_at, '2026-01-01T00:02:00.000Z');
  assert.deepEqual(Object.keys(t1).sort(), ['acknowledged_at', 'fields_prefilled', 'fields_typed', 'opened_at', 'procedure_id', 'procedure_version']);
  assert.ok(!JSON.stringify(t1).includes('山田'));
  assert.equal(requestBody({ body: '{"id":"x"}', telemetry: null }, 0), '{"id":"x"}');
});

const INDEX = {
  procedures: {
    'juminhyo-copy': { title: { ja: '住民票の写し等交付請求', en: 'Request for a copy of the residence record' }, keywords: ['住民票', 'juminhyo'], department: { ja: '市民課' } },
    tennyu: { title: { ja: '転入届', en: 'Moving-in notification' }, keywords: ['引っ越し'], department: { ja: '市民課' } },
  },
};

test('finder: Japanese, English, keywords, full-width and katakana/hiragana folding', () => {
  assert.deepEqual(searchProcedures(INDEX, '住民票').map((p) => p.id), ['juminhyo-copy']);
  assert.deepEqual(searchProcedures(INDEX, 'residence RECORD').map((p) => p.id), ['juminhyo-copy']);
  assert.deepEqual(searchProcedures(INDEX, 'ｊｕｍｉｎｈｙｏ').map((p) => p.id), ['juminhyo-copy']);
  assert.deepEqual(searchProcedures(INDEX, 'moving').map((p) => p.id), ['tennyu']);
  assert.deepEqual(searchProcedures(INDEX, 'ひっこし'), []);
  assert.equal(fold('ヒッコシ'), 'ひっこし');
  assert.equal(searchProcedures(INDEX, '').length, 2);
  assert.deepEqual(searchProcedures(INDEX, '住民票 tennyu'), []);
});

test('paths: parse, get, set (empty deletes), shown and values', () => {
  assert.deepEqual(parsePath('members[2].name'), ['members', 2, 'name']);
  const a = {};
  setPath(a, 'members[0].name', { family: '山田' });
  assert.deepEqual(a, { members: [{ name: { family: '山田' } }] });
  assert.deepEqual(getPath(a, 'members[0].name.family'), '山田');
  setPath(a, 'members[0].name', '');
  assert.deepEqual(a, { members: [{}] });
  assert.equal(fieldPath('', 'x'), 'x');
  assert.equal(fieldPath('g[1]', 'x'), 'g[1].x');
  const r = { shown: new Set(['a', 'g', 'g[0].x']), values: { total: 300 } };
  assert.equal(isShown(r, 'a'), true);
  assert.equal(isShown(r, 'b'), false);
  assert.equal(isShown(r, 'g[0].x'), true);
  assert.equal(isShown({ shown: { a: true, b: false } }, 'b'), false);
  assert.equal(isShown({ shown: ['g'] }, 'g[3].y'), true);
  assert.equal(valueAt(r, 'total'), 300);
});

const EVENT = {
  id: 'moving-in', questions: [{ id: 'has_children', label: { ja: '子' } }, { id: 'school', label: { ja: '学校' }, show_if: { ref: ['has_children'] } }],
  procedures: [{ procedure: 'tennyu' }, { procedure: 'jido-teate', include_if: { ref: ['has_children'] } }],
  shared_fields: [{ field: { id: 'new_address', type: 'address', label: { ja: '新住所' } }, maps_to: { tennyu: 'new_address', 'jido-teate': 'address' } }],
};

test('life events: questions, applicable procedures, shared fields entered once', () => {
  assert.deepEqual(visibleQuestions(EVENT, {}, evaluate).map((q) => q.id), ['has_children']);
  assert.deepEqual(visibleQuestions(EVENT, { has_children: true }, evaluate).map((q) => q.id), ['has_children', 'school']);
  assert.deepEqual(applicableProcedures(EVENT, {}, evaluate).map((p) => p.procedure), ['tennyu']);
  assert.deepEqual(applicableProcedures(EVENT, { has_children: true }, evaluate).map((p) => p.procedure), ['tennyu', 'jido-teate']);
  const byProc = { tennyu: {}, 'jido-teate': { other: 1 } };
  copyShared(EVENT, { new_address: { prefecture: '埼玉県' } }, byProc);
  assert.deepEqual(byProc, { tennyu: { new_address: { prefecture: '埼玉県' } }, 'jido-teate': { other: 1, address: { prefecture: '埼玉県' } } });
  byProc.tennyu.new_address.prefecture = 'x';
  assert.equal(byProc['jido-teate'].address.prefecture, '埼玉県', 'copies are independent');
  copyShared(EVENT, {}, byProc);
  assert.deepEqual(byProc.tennyu, {});
  assert.deepEqual([...mappedFields(EVENT).get('jido-teate')], ['address']);
  assert.equal(sharedSource(EVENT, 'jido-teate', 'address'), 'new_address');
  const docs = documentsFor({ documents: [{ id: 'id', label: { ja: '本人確認書類' } }, { id: 'poa', label: { ja: '委任状' }, required_if: { op: '==', args: [{ ref: ['relation'] }, { lit: 'proxy' }] } }] }, {}, evaluate);
  assert.deepEqual(docs.map((d) => d.id), ['id']);
  const merged = mergeDocuments([{ procedure: 'a', documents: docs }, { procedure: 'b', documents: docs }]);
  assert.equal(merged.length, 1);
  assert.deepEqual(merged[0].procedures, ['a', 'b']);
});

test('base64url round trip and option parsing fallback', () => {
  const bytes = new Uint8Array([0, 251, 255, 62, 63, 1]);
  const s = b64urlEncode(bytes.buffer);
  assert.ok(!/[+/=]/.test(s));
  assert.deepEqual(new Uint8Array(b64urlDecode(s)), bytes);
  const creation = parseCreationOptions({ challenge: s, user: { id: 'AQI', name: 'x', displayName: 'x' }, rp: { name: 'r' }, pubKeyCredParams: [], excludeCredentials: [{ id: 'AQI', type: 'public-key' }] }, null);
  assert.deepEqual(new Uint8Array(creation.user.id), new Uint8Array([1, 2]));
  assert.ok(creation.challenge instanceof ArrayBuffer);
  const req = parseRequestOptions({ challenge: s, allowCredentials: [] }, null);
  assert.deepEqual(req.allowCredentials, []);
  assert.deepEqual(unwrapOptions({ options: { publicKey: { a: 1 } }, challenge_id: 'c' }), { a: 1 });
  assert.deepEqual(unwrapOptions({ options: { a: 1 }, challenge_id: 'c' }), { a: 1 });
  assert.deepEqual(unwrapOptions({ challenge: 'x' }), { challenge: 'x' });
});

test('i18n: Japanese default, persisted choice, fallbacks, contract strings', () => {
  const mem = new Map();
  const storage = { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, v) };
  assert.equal(initialLang(storage), 'ja');
  setLang('en', storage);
  assert.equal(initialLang(storage), 'en');
  assert.equal(t('submit'), 'Submit');
  assert.equal(t('submit', null, 'ja'), '送信');
  assert.equal(t('nWaiting', { n: 1 }, 'ja'), '1件 送信待ち');
  assert.equal(t('allSent', null, 'ja'), 'すべて送信済み');
  assert.equal(t('failed', { reason: 'x' }, 'ja'), '送信失敗: x');
  assert.equal(tx({ ja: '住所' }), '住所', 'English falls back to Japanese');
  assert.equal(tx({ ja: '住所', 'ja-easy': 'じゅうしょ' }, 'ja-easy'), 'じゅうしょ');
  assert.equal(htmlLang('ja-easy'), 'ja');
  setLang('xx', storage);
  assert.equal(initialLang(storage), 'ja');
  for (const [k, v] of Object.entries(STRINGS)) for (const l of LANGS) assert.ok(v[l], `${k} lacks ${l}`);
});

test('CSRF cookie is read from document.cookie', () => {
  assert.equal(readCookie('madoguchi_csrf', 'a=1; madoguchi_csrf=abc%3D; b=2'), 'abc=');
  assert.equal(readCookie('madoguchi_csrf', ''), '');
});
