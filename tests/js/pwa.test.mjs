// Pure modules of the resident app (no DOM): finder, paths, life events, passkey encoding, i18n.
// The sync engine (outbox, replica, drafts) has its own file: pwa-sync.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchProcedures, fold } from '../../pwa/js/finder.js';
import { parsePath, getPath, setPath, isShown, valueAt, fieldPath } from '../../pwa/js/paths.js';
import { applicableProcedures, visibleQuestions, copyShared, mappedFields, documentsFor, mergeDocuments, sharedSource } from '../../pwa/js/lifeevent.js';
import { b64urlEncode, b64urlDecode, parseCreationOptions, parseRequestOptions, unwrapOptions } from '../../pwa/js/webauthn.js';
import { t, tx, setLang, initialLang, loadLang, htmlLang, allStrings, LANGS } from '../../pwa/js/i18n.js';
import { readCookie } from '../../pwa/js/api.js';
import { evaluate } from '../../pwa/js/expr.js';

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
  // The same document worded differently in another language (転入届 and 国保 加入): still listed once.
  const wordier = [{ id: 'id', label: { ja: '本人確認書類', 'ja-easy': '顔写真が ある カード（運転免許証 など）' } }];
  const plain = [{ id: 'id_document', label: { ja: '本人確認書類', 'ja-easy': '顔写真が ある カード' } }, { id: 'x', label: '別の書類' }];
  const once = mergeDocuments([{ procedure: 'a', documents: wordier }, { procedure: 'b', documents: plain }]);
  assert.deepEqual(once.map((d) => d.procedures), [['a', 'b'], ['b']]);
  assert.equal(once[0].label['ja-easy'], '顔写真が ある カード（運転免許証 など）', 'the first wording is shown');
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

test('i18n: Japanese default, persisted choice, fallbacks, contract strings', async () => {
  const mem = new Map();
  const storage = { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, v) };
  assert.equal(initialLang(storage), 'ja');
  assert.equal(t('submit', null, 'en'), '送信', 'English not loaded yet: Japanese');
  await loadLang('en');
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
  for (const [k, v] of Object.entries(await allStrings())) for (const l of LANGS) assert.ok(v[l], `${k} lacks ${l}`);
});

test('CSRF cookie is read from document.cookie', () => {
  assert.equal(readCookie('madoguchi_csrf', 'a=1; madoguchi_csrf=abc%3D; b=2'), 'abc=');
  assert.equal(readCookie('madoguchi_csrf', ''), '');
});
