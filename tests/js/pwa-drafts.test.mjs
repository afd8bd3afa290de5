// Drafts on the device (pwa/js/drafts.js): the new record, saving only what changed, one draft.patch per
// pause (real commitDraft on an in-memory store, fake timers), and the submission made from a draft.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  newDraftRecord, prefillValue, changedKeys, mergeSaved, attachmentRefs, submissionOf, createDraftSaver, COMMIT_DELAY_MS,
} from '../../pwa/js/drafts.js';
import { commitDraft, mutationOf } from '../../pwa/js/sync.js';
import { isShown } from '../../pwa/js/paths.js';
import { memStore } from './memstore.mjs';

const COMPILED = {
  id: 'juminhyo-copy', version: '1.0.0', title: { ja: '住民票' },
  sections: [
    { id: 'a', fields: [{ id: 'name', prefill: 'name' }, { id: 'address', prefill: 'address', prefill_editable: false }, { id: 'phone', prefill: 'phone' }] },
    { id: 'b', fields: [{ id: 'copies' }, { id: 'proof' }, { id: 'reason' }] },
  ],
};
const P = { path: '/procedures/juminhyo-copy/1.0.0.abc.json', compiled: COMPILED };
const PROFILE = { verified: true, profile: { name: { family: '山田', given: '花子' }, address: { city: '窓口市' }, phone: '' } };

function counter() { let n = 0; return () => `id-${++n}`; }

test('a new draft: ids made now, prefilled (and locked) from a verified profile only', () => {
  const d = newDraftRecord(P, { profile: PROFILE, uuid: counter(), now: Date.UTC(2026, 0, 2) });
  assert.deepEqual([d.id, d.submission_id, d.kind, d.procedure_version, d.procedure_path], ['id-1', 'id-2', 'draft', '1.0.0', P.path]);
  assert.deepEqual(d.answers, { name: { family: '山田', given: '花子' }, address: { city: '窓口市' } }); // empty phone not filled
  assert.deepEqual([d.prefilled, d.locked], [['name', 'address'], ['address']]);
  assert.equal(d.opened_at, '2026-01-02T00:00:00.000Z');
  PROFILE.profile.name.family = '変更';
  assert.equal(d.answers.name.family, '山田'); // a copy, not the profile's object
  PROFILE.profile.name.family = '山田';
  assert.deepEqual(newDraftRecord(P, { profile: { ...PROFILE, verified: false }, uuid: counter() }).answers, {});
  const acting = newDraftRecord(P, { profile: PROFILE, acting: { id: 'r1', name: '佐藤' }, uuid: counter(), extra: { bundle_id: 'b1' } });
  assert.deepEqual([acting.answers, acting.on_behalf_of, acting.on_behalf_name, acting.bundle_id], [{}, 'r1', '佐藤', 'b1']);
});

test("a yes/no prefill: the profile's has_spouse true answers はい; absent leaves the question to the resident", () => {
  const c = { id: 'jido-teate', version: '2.0.0', title: { ja: '児童手当' }, sections: [{ id: 'spouse', fields: [
    { id: 'has_spouse', type: 'yesno', prefill: 'has_spouse' }, { id: 'spouse_name', type: 'name', prefill: 'spouse_name' }] }] };
  const p = { path: '/procedures/jido-teate/2.0.0.x.json', compiled: c };
  const married = { verified: true, profile: { has_spouse: true, spouse_name: { family: '山田', given: '太郎' } } };
  const d = newDraftRecord(p, { profile: married, uuid: counter() });
  assert.equal(d.answers.has_spouse, true);
  assert.deepEqual([d.prefilled, d.prefill_sources], [['has_spouse', 'spouse_name'], { has_spouse: 'registry', spouse_name: 'registry' }]);
  const alone = newDraftRecord(p, { profile: { verified: true, profile: { name: { family: '桂城', given: '美咲' } } }, uuid: counter() });
  assert.ok(!('has_spouse' in alone.answers) && !alone.prefilled.includes('has_spouse'));
});

test('a choice derived from a registry fact (prefill_values) is marked derived: a guess to confirm, not the record', () => {
  const c = { id: 'konin', version: '2.0.0', title: { ja: '婚姻届' }, sections: [{ id: 'you', fields: [
    { id: 'applicant_role', type: 'choice', prefill: 'sex', prefill_values: { male: 'husband', female: 'wife' } },
    { id: 'applicant_name', type: 'name', prefill: 'name' }] }] };
  const d = newDraftRecord({ path: '/x.json', compiled: c }, { profile: { verified: true, profile: { sex: 'female', name: { family: '山田', given: '花子' } } }, uuid: counter() });
  assert.equal(d.answers.applicant_role, 'wife');
  assert.deepEqual(d.prefill_sources, { applicant_role: 'derived', applicant_name: 'registry' });
});

// The twin of server/prefill_check.py prefill_value (tests/conformance/prefill_value.json, also run by pytest).
const PART = JSON.parse(readFileSync(new URL('../conformance/prefill_value.json', import.meta.url), 'utf8'));

test('prefillValue follows the shared rule: with prefill_part only the 氏, else the whole value', () => {
  for (const c of PART.cases) assert.deepEqual(prefillValue(c.field, c.profile), c.value, c.name);
});

test("a partial prefill: the child's 氏 from the filer's name and reading, the 名 left to type, noted as prefilled", () => {
  const [name, kana] = PART.cases.map((c) => c.field);
  const p = { path: '/procedures/shussei/2.0.0.x.json', compiled: { id: 'shussei', version: '2.0.0', title: { ja: '出生届' }, sections: [{ id: 'child', fields: [name, kana] }] } };
  const d = newDraftRecord(p, { profile: { verified: true, profile: PART.cases[0].profile }, uuid: counter() });
  assert.deepEqual(d.answers, { child_name: { family: '山田' }, child_kana: { family: 'ヤマダ' } });
  assert.deepEqual([d.prefilled, d.prefill_sources], [['child_name', 'child_kana'], { child_name: 'registry', child_kana: 'registry' }]);
  const oneString = newDraftRecord(p, { profile: { verified: true, profile: { name_kana: 'ヤマダ タロウ' } }, uuid: counter() });
  assert.deepEqual([oneString.answers, oneString.prefilled], [{}, []]);
});

test('a save writes only the answers the page changed: a change pulled meanwhile stays', () => {
  assert.deepEqual(changedKeys({ a: 1, b: { x: 1 }, c: 3 }, { a: 1, b: { x: 2 }, d: 4 }).sort(), ['b', 'c', 'd']);
  const stored = { id: 'd', kind: 'draft', answers: { a: 1, pulled: 'from my phone', gone: 1 }, seen: { a: 1 }, submitted_as: null, raw: {} };
  const copy = { id: 'd', kind: 'draft', answers: { a: 2 }, raw: { a: '２' }, typed: ['a'], seen: {} };
  const out = mergeSaved(stored, copy, ['a', 'gone']);
  assert.deepEqual(out.answers, { a: 2, pulled: 'from my phone' });
  assert.deepEqual([out.raw, out.typed, out.seen], [{ a: '２' }, ['a'], { a: 1 }]); // device-only parts as the page has them; seen kept
  assert.deepEqual(stored.answers, { a: 1, pulled: 'from my phone', gone: 1 }); // the input is not changed
  const full = mergeSaved(stored, copy, null);
  assert.deepEqual([full.answers, full.seen], [{ a: 2 }, { a: 1 }]);
  const bundle = mergeSaved({ id: 'b', kind: 'bundle', shared: { x: 1, y: 2 } }, { id: 'b', kind: 'bundle', shared: { x: 5 } }, ['x']);
  assert.deepEqual(bundle.shared, { x: 5, y: 2 });
});

test('the submission: only shown, known fields; typed and prefilled counts; files; on behalf of', () => {
  const file = { sha256: 'f'.repeat(64), name: 'a.png', size: 3, type: 'image/png' };
  const d = {
    procedure_id: 'juminhyo-copy', procedure_version: '1.0.0', opened_at: '2026-01-01T00:00:00.000Z', on_behalf_of: 'r1',
    answers: { name: 'x', address: { city: 'c' }, copies: 2, proof: [file], reason: 'hidden', stale: 'not in this version' },
    typed: ['copies', 'reason'], prefilled: ['name', 'address', 'phone'],
  };
  const result = { shown: new Map([['reason', false]]) };
  const { submission, files } = submissionOf(d, COMPILED, result, { isShown, sharedTyped: ['address'], now: Date.UTC(2026, 0, 3) });
  assert.deepEqual(Object.keys(submission.answers).sort(), ['address', 'copies', 'name', 'proof']);
  assert.deepEqual([files, submission.attachments], [[file.sha256], [file.sha256]]);
  assert.equal(submission.on_behalf_of, 'r1');
  assert.deepEqual(submission.telemetry, {
    procedure_id: 'juminhyo-copy', procedure_version: '1.0.0', opened_at: '2026-01-01T00:00:00.000Z', acknowledged_at: '2026-01-03T00:00:00.000Z',
    fields_typed: 2, fields_prefilled: 1, // copies + address typed (address in the shared part); name prefilled
  });
  assert.deepEqual(attachmentRefs({ g: [{ docs: [file, { sha256: 'x' }] }], other: { sha256: 'b'.repeat(64), size: 1 } }).sort(), ['b'.repeat(64), file.sha256]);
});

test('telemetry counts top-level fields: a picked member\'s values count for their group; shared prefills count as prefilled', () => {
  const compiled = { sections: [{ fields: [{ id: 'movers', type: 'group' }, { id: 'phone' }, { id: 'name' }, { id: 'note' }] }] };
  const d = {
    procedure_id: 'tenkyo', procedure_version: '1.0.0', opened_at: '2026-01-01T00:00:00.000Z',
    answers: { movers: [{ n: 'a' }, { n: 'b' }], phone: '090', name: 'x', note: 'typed' },
    typed: ['note', 'movers[1].n'], prefilled: ['movers[0].n', 'movers[1].n', 'movers[1].birth', 'gone'],
  };
  const shown = { isShown: () => true };
  const t1 = submissionOf(d, compiled, {}, { ...shown, now: 0 }).submission.telemetry;
  // movers was corrected (one member's value typed): typed, not prefilled; note typed; nothing else counted.
  assert.deepEqual([t1.fields_typed, t1.fields_prefilled], [2, 0]);
  const d2 = { ...d, typed: ['note'] };
  const t2 = submissionOf(d2, compiled, {}, { ...shown, sharedPrefilled: ['phone', 'name'], sharedTyped: ['name'], now: 0 }).submission.telemetry;
  assert.deepEqual([t2.fields_typed, t2.fields_prefilled], [2, 2]); // note, name typed; movers, phone prefilled
});

test('attachmentRefs follows the shared rule (tests/conformance/attachments.json, also run by pytest)', () => {
  const data = JSON.parse(readFileSync(new URL('../conformance/attachments.json', import.meta.url), 'utf8'));
  assert.ok(data.cases.length > 10);
  for (const { answers, refs } of data.cases) assert.deepEqual(attachmentRefs(answers).sort(), refs, JSON.stringify(answers));
});

function fakeTimers() {
  const pending = new Map();
  let next = 1;
  return {
    setTimeout: (fn, ms) => { const id = next++; pending.set(id, { fn, ms }); return id; },
    clearTimeout: (id) => { pending.delete(id); },
    fireAll() { const due = [...pending.values()]; pending.clear(); for (const t of due) t.fn(); },
    delays: () => [...pending.values()].map((t) => t.ms),
  };
}

test('edits in a row make one draft.patch after the pause; leaving the page commits at once', async () => {
  const store = memStore();
  const timers = fakeTimers();
  const committed = [];
  const saver = createDraftSaver({ store, commit: commitDraft, timers, onCommitted: (id) => committed.push(id) });
  const d = newDraftRecord(P, { uuid: counter() });
  await store.put('drafts', d);
  saver.snapshot(d);
  d.answers.copies = 1;
  saver.save(d);
  d.answers.copies = 2;
  d.answers.reason = 'work';
  await saver.save(d);
  assert.deepEqual(timers.delays(), [COMMIT_DELAY_MS]); // one pending commit, restarted by each edit
  assert.equal(saver.hasPending(d.id), true);
  assert.deepEqual((await store.get('drafts', d.id)).answers, { copies: 2, reason: 'work' });
  assert.equal((await store.all('outbox')).length, 0);
  timers.fireAll();
  await new Promise((r) => setImmediate(r));
  const outbox = await store.all('outbox');
  assert.equal(outbox.length, 1);
  const ch = mutationOf(outbox[0]).changes;
  assert.deepEqual([ch.copies, ch.reason], [{ base: null, new: 2 }, { base: null, new: 'work' }]); // the last values, once
  assert.deepEqual(committed, [d.id]);
  // A pulled change lands in the stored draft; the page's next edit (another field) does not undo it.
  const stored = await store.get('drafts', d.id);
  await store.put('drafts', { ...stored, answers: { ...stored.answers, reason: 'moving' } });
  d.answers.copies = 3;
  saver.save(d);
  assert.equal(await saver.flush(), 1); // leaving the page: committed now, timer dropped
  assert.deepEqual(timers.delays(), []);
  assert.deepEqual((await store.get('drafts', d.id)).answers, { copies: 3, reason: 'moving' });
  assert.equal(await saver.flush(), 0);
});

test("a resident's draft keeps a staff_only answer aside, never sends it", async () => {
  const { retireStaffOnly } = await import('../../pwa/js/drafts.js');
  const compiled = { sections: [{ id: 'a', fields: [{ id: 'move_date' }, { id: 'filer_relation', staff_only: true }] }] };
  const d = { answers: { move_date: '2026-12-01', filer_relation: 'self' }, retired: { old: 1 } };
  assert.equal(retireStaffOnly(d, compiled), true);
  assert.deepEqual(d.answers, { move_date: '2026-12-01' });
  assert.deepEqual(d.retired, { old: 1, filer_relation: 'self' });
  assert.equal(retireStaffOnly(d, compiled), false);
});
