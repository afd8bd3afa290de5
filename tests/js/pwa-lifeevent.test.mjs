// The life event's combined form: which shared fields are asked, how a verified profile seeds them, and how
// typing a shared field once counts for every procedure it feeds (telemetry). Plus digit clean-up of fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedFieldsFor, seedShared, mappedTargets, copyShared, sharedSources } from '../../pwa/js/lifeevent.js';
import { cleanDigits } from '../../pwa/js/render.js';

const EVENT = {
  id: 'moving-in',
  shared_fields: [
    { field: { id: 'new_address', type: 'address' }, maps_to: { tennyu: 'new_address', 'juminhyo-copy': 'applicant_address' } },
    { field: { id: 'applicant_name', type: 'name' }, maps_to: { tennyu: 'filer_name', 'juminhyo-copy': 'applicant_name' } },
    { field: { id: 'head_name', type: 'name' }, maps_to: { tennyu: 'new_head_name', 'kokuho-kanyu': 'head_name' } },
    { field: { id: 'insurance_card', type: 'text' }, maps_to: { 'kokuho-kanyu': 'card' } },
  ],
};

test('only the shared fields that feed an included procedure are asked', () => {
  assert.deepEqual(sharedFieldsFor(EVENT, ['juminhyo-copy']).map((s) => s.field.id), ['new_address', 'applicant_name']);
  assert.deepEqual(sharedFieldsFor(EVENT, ['tennyu']).map((s) => s.field.id), ['new_address', 'applicant_name', 'head_name']);
  assert.deepEqual(sharedFieldsFor(EVENT, []), []);
});

test('values prefilled into the procedures seed the shared fields, marked as prefilled', () => {
  const drafts = [
    { procedure_id: 'tennyu', answers: {}, prefilled: [] },
    { procedure_id: 'juminhyo-copy', answers: { applicant_name: { family: '山田', given: '太郎' }, relation: 'self' }, prefilled: ['applicant_name'] },
  ];
  const { shared, prefilled } = seedShared(EVENT, drafts);
  assert.deepEqual(shared, { applicant_name: { family: '山田', given: '太郎' } });
  assert.deepEqual(prefilled, ['applicant_name']);
  shared.applicant_name.family = 'x';
  assert.equal(drafts[1].answers.applicant_name.family, '山田', 'the seed is a copy');
  assert.deepEqual(seedShared(EVENT, []), { shared: {}, prefilled: [] });
});

test("a shared field's own prefill takes the profile's value when no procedure's draft gave one", () => {
  const ev = { shared_fields: [
    { field: { id: 'parent_role', type: 'choice', prefill: 'sex', prefill_values: { male: 'father', female: 'mother' } }, maps_to: { shussei: 'filer_qualification' } },
    { field: { id: 'applicant_name', type: 'name', prefill: 'name' }, maps_to: { tennyu: 'filer_name' } },
  ] };
  const profile = { verified: true, profile: { sex: 'female', name: { family: '山田', given: '花子' } } };
  const typedHere = [{ procedure_id: 'tennyu', answers: { filer_name: { family: '佐藤', given: '花子' } }, prefilled: [] }];
  assert.deepEqual(seedShared(ev, typedHere, profile), {
    shared: { parent_role: 'mother', applicant_name: { family: '佐藤', given: '花子' } }, prefilled: ['parent_role'] });
  assert.deepEqual(seedShared(ev, [], { ...profile, verified: false }), { shared: {}, prefilled: [] });
  assert.deepEqual(seedShared(ev, [], null), { shared: {}, prefilled: [] });
});

test('a shared field typed once counts as typed in each procedure it feeds', () => {
  assert.deepEqual(mappedTargets(EVENT, 'tennyu', ['new_address', 'applicant_name']), ['new_address', 'filer_name']);
  assert.deepEqual(mappedTargets(EVENT, 'juminhyo-copy', ['head_name']), []);
});

test('phone and number fields: full-width digits and dash variants', () => {
  assert.equal(cleanDigits('phone', '０９０－１２３４－５６７８'), '090-1234-5678');
  assert.equal(cleanDigits('phone', '090 1234 5678'), '09012345678');
  assert.equal(cleanDigits('my_number', '１２３４ ５６７８ ９０１８'), '123456789018');
  assert.equal(cleanDigits('corporate_number', '1234-5678-90123'), '1234567890123');
});

test('a shared field is marked required exactly when a procedure it fills requires that field now', async () => {
  const { evaluateForm } = await import('../../pwa/js/form.js');
  const { sharedRequired } = await import('../../pwa/js/lifeevent.js');
  const F = (id, more = {}) => ({ id, type: 'text', label: { ja: id }, ...more });
  const proc = (id, fields) => ({ id, version: '1.0.0', title: { ja: id }, sections: [{ id: 's', title: { ja: 's' }, fields }] });
  const a = proc('a', [F('kind', { type: 'choice', choices: [{ value: 'x', label: { ja: 'x' } }, { value: 'y', label: { ja: 'y' } }] }),
    F('postal', { type: 'postal_code', address_field: 'addr' }), F('addr', { type: 'address', required_if: { op: '==', args: [{ ref: ['kind'] }, { lit: 'x' }] } }),
    F('memo', { staff_only: true, required: true })]);
  const b = proc('b', [F('note'), F('code', { required: true })]);
  const ev = { shared_fields: [
    { field: F('s_postal'), maps_to: { a: 'postal' } }, { field: F('s_addr'), maps_to: { a: 'addr' } },
    { field: F('s_note'), maps_to: { b: 'note' } }, { field: F('s_code'), maps_to: { b: 'code' } },
    { field: F('s_memo'), maps_to: { a: 'memo' } }] };
  const results = (answers) => [a, b].map((c) => ({ d: { procedure_id: c.id }, result: evaluateForm(c, answers, { today: '2026-04-01' }) }));
  assert.deepEqual(sharedRequired(ev, results({ kind: 'y' })).sort(), ['s_code']);
  // A linked postal code of a required address is required too (the 転入 postal code in the moving-in event).
  assert.deepEqual(sharedRequired(ev, results({ kind: 'x' })).sort(), ['s_addr', 's_code', 's_postal']);
});

// A question's maps_to (birth / moving-in: 「公務員ですか」 -> 児童手当's is_public_servant): answered once.
const QEVENT = {
  questions: [
    { id: 'has_children' },
    { id: 'is_public_servant', show_if: { ref: ['has_children'] }, maps_to: { 'jido-teate': 'is_public_servant' } },
  ],
  shared_fields: [{ field: { id: 'phone', type: 'phone' }, maps_to: { 'jido-teate': 'claimant_phone' } }],
};

test("a question's answer fills the procedure field it maps to, and that field is not asked", async () => {
  const { answeredQuestions, copyQuestions, mappedFields, questionTargets } = await import('../../pwa/js/lifeevent.js');
  const { evaluate } = await import('../../pwa/js/expr.js');
  const kept = answeredQuestions(QEVENT, { has_children: true, is_public_servant: false, stray: true }, evaluate, '2026-04-01');
  assert.deepEqual(kept, { has_children: true, is_public_servant: false });
  // Hidden (no children) or unanswered: nothing kept, so the procedure asks its own field.
  assert.deepEqual(answeredQuestions(QEVENT, { has_children: false, is_public_servant: false }, evaluate, '2026-04-01'), { has_children: false });
  assert.deepEqual(answeredQuestions(QEVENT, { has_children: true }, evaluate, '2026-04-01'), { has_children: true });
  const byProc = { 'jido-teate': { claimant_phone: '090' }, shussei: {} };
  assert.deepEqual(copyQuestions(QEVENT, kept, byProc), ['jido-teate']);
  assert.equal(byProc['jido-teate'].is_public_servant, false, 'false is an answer, copied as such');
  assert.deepEqual(byProc.shussei, {});
  assert.deepEqual(copyQuestions(QEVENT, kept, byProc), [], 'already there: nothing to save again');
  assert.deepEqual(copyQuestions(QEVENT, { has_children: true, is_public_servant: true }, byProc), ['jido-teate']);
  assert.equal(byProc['jido-teate'].is_public_servant, true);
  assert.deepEqual([...mappedFields(QEVENT, kept).get('jido-teate')].sort(), ['claimant_phone', 'is_public_servant']);
  // A bundle without kept answers (started before they were kept) still asks the field.
  assert.deepEqual([...mappedFields(QEVENT).get('jido-teate')], ['claimant_phone']);
  assert.deepEqual(copyQuestions(QEVENT, undefined, byProc), []);
  assert.deepEqual(questionTargets(QEVENT, 'jido-teate', kept), ['is_public_servant']);
  assert.deepEqual(questionTargets(QEVENT, 'jido-teate', { has_children: true }), []);
  assert.deepEqual(questionTargets(QEVENT, 'shussei', kept), []);
});

// おくやみ: the deceased picked once in the shared fields, fed to 死亡届's own person field.
const DEATH = { shared_fields: [
  { field: { id: 'deceased_person', type: 'person', prefill: 'household_members', pick_self: false,
    fills: { deceased_name: 'name' } }, maps_to: { shibo: 'deceased_person' } },
  { field: { id: 'deceased_name', type: 'name' }, maps_to: { shibo: 'deceased_name' } },
] };
const SHIBO = { id: 'shibo', sections: [{ id: 'deceased', fields: [
  { id: 'deceased_person', type: 'person', prefill: 'household_members', pick_self: false,
    fills: { deceased_name: 'name', deceased_sex: 'sex', spouse_living: 'has_spouse', spouse_birth_date: 'spouse_birth_date' } },
  { id: 'deceased_name', type: 'name' }, { id: 'deceased_sex', type: 'choice' },
  { id: 'spouse_living', type: 'yesno' }, { id: 'spouse_birth_date', type: 'wareki' }] }] };
const HEAD = { member_id: 'R1', name: { family: '山田', given: '太郎' }, sex: 'male', has_spouse: true, spouse_birth_date: '1945-08-01' };
const WIFE = { member_id: 'R2', name: { family: '山田', given: '花子' }, sex: 'female' };

test("a shared pick gives the procedure's own person field its other values, marked prefilled, once per pick", () => {
  const d = { procedure_id: 'shibo', answers: {}, prefilled: [], prefill_sources: {},
    people: { household_members: { source: 'registry', self: 'R3', list: [HEAD, WIFE, { member_id: 'R3', sex: 'male' }] } } };
  const drafts = { shibo: { compiled: SHIBO, d } };
  copyShared(DEATH, { deceased_person: 'R1', deceased_name: HEAD.name }, { shibo: d.answers }, drafts);
  assert.deepEqual(d.answers, { deceased_person: 'R1', deceased_name: HEAD.name, deceased_sex: 'male', spouse_living: true, spouse_birth_date: '1945-08-01' });
  assert.deepEqual(d.prefilled.sort(), ['deceased_sex', 'spouse_birth_date', 'spouse_living']);
  assert.equal(d.prefill_sources.deceased_sex, 'registry');
  // The same pick again (any later change of the shared fields): a value corrected in 死亡届 stays.
  d.answers.deceased_sex = 'female';
  copyShared(DEATH, { deceased_person: 'R1', deceased_name: HEAD.name }, { shibo: d.answers }, drafts);
  assert.equal(d.answers.deceased_sex, 'female');
  d.answers.deceased_sex = 'male';
  // Another person: what the first pick gave is replaced or cleared.
  copyShared(DEATH, { deceased_person: 'R2', deceased_name: WIFE.name }, { shibo: d.answers }, drafts);
  assert.deepEqual(d.answers, { deceased_person: 'R2', deceased_name: WIFE.name, deceased_sex: 'female' });
  assert.deepEqual(d.prefilled, ['deceased_sex']); // hers, as the registry has it
  // 「ここにない人」: nothing picked, nothing of the pick left.
  d.answers.deceased_sex = 'female';
  copyShared(DEATH, { deceased_name: { family: '佐藤', given: '一' } }, { shibo: d.answers }, drafts);
  assert.equal(d.answers.deceased_person, undefined);
  // Without the drafts (older callers), only the shared values are copied.
  const a = {};
  copyShared(DEATH, { deceased_person: 'R1' }, { shibo: a });
  assert.deepEqual(a, { deceased_person: 'R1' });
});

test('starting a bundle reads the profile once and saves only the drafts the shared values or questions changed', async () => {
  const { startBundle } = await import('../../pwa/js/lifeevent.js');
  const { newDraftRecord } = await import('../../pwa/js/drafts.js');
  const name = (f) => ({ id: f, type: 'name', prefill: 'name' });
  const proc = (id, fields) => ({ path: `${id}.json`, compiled: { id, version: '1', title: { ja: id }, sections: [{ id: 's', fields }] } });
  const procs = [
    proc('tennyu', [name('filer_name'), { id: 'new_head_name', type: 'name' }]),
    proc('juminhyo-copy', [name('applicant_name')]),
    proc('kokuho-kanyu', [{ id: 'head_name', type: 'name' }, { id: 'card', type: 'text' }, { id: 'works', type: 'yesno' }]),
  ];
  const event = {
    ...EVENT,
    shared_fields: EVENT.shared_fields.map((sf) => (sf.field.id === 'head_name' ? { ...sf, field: { ...sf.field, prefill: 'household_head_name' } } : sf)),
    questions: [{ id: 'employed', maps_to: { 'kokuho-kanyu': 'works' } }],
  };
  const profile = { verified: true, profile: { name: { family: '山田', given: '花子' }, household_head_name: { family: '山田', given: '太郎' } } };
  let reads = 0;
  const seen = [];
  const saved = [];
  let n = 0;
  const { parts, shared, prefilled } = await startBundle(event, procs, { employed: false }, {
    readProfile: async () => { reads += 1; return profile; },
    makeDraft: async (p, given) => { seen.push(given); return newDraftRecord(p, { profile: given, uuid: () => `id${(n += 1)}` }); },
    save: async (d) => { saved.push(d.procedure_id); },
  });
  assert.equal(reads, 1, 'one profile read (for staff: one audited registry read) for the whole bundle');
  assert.deepEqual(seen, [profile, profile, profile]);
  assert.deepEqual(shared, { applicant_name: { family: '山田', given: '花子' }, head_name: { family: '山田', given: '太郎' } });
  assert.deepEqual(prefilled, ['applicant_name', 'head_name']);
  // 転入届 and 国保 got the head (and 国保 the question's answer); the 住民票 draft was stored as made.
  assert.deepEqual(saved, ['tennyu', 'kokuho-kanyu']);
  assert.deepEqual(parts[0].answers.new_head_name, { family: '山田', given: '太郎' });
  assert.equal(parts[2].answers.works, false);
  // copyShared alone: the procedures it changed, nothing once they agree.
  const byProc = Object.fromEntries(parts.map((d) => [d.procedure_id, d.answers]));
  assert.deepEqual(copyShared(event, shared, byProc), []);
  assert.deepEqual(copyShared(event, { ...shared, insurance_card: 'A1' }, byProc), ['kokuho-kanyu']);
  assert.deepEqual(copyShared(event, { ...shared, insurance_card: '' }, byProc), ['kokuho-kanyu']);
});

test("the shared step says where a prefilled value came from: a shared prefill_values derived, else the draft's source", () => {
  const ev = { shared_fields: [
    { field: { id: 'parent_role', type: 'choice', prefill: 'sex', prefill_values: { male: 'father', female: 'mother' } }, maps_to: { shussei: 'filer_qualification' } },
    { field: { id: 'prev', type: 'address' }, maps_to: { tennyu: 'prev_address' } },
    { field: { id: 'role', type: 'choice' }, maps_to: { konin: 'applicant_role' } },
    { field: { id: 'typed', type: 'text' }, maps_to: { tennyu: 'reason' } },
  ] };
  const drafts = [
    { procedure_id: 'tennyu', answers: { prev_address: {}, reason: 'x' }, prefilled: ['prev_address'], prefill_sources: { prev_address: 'transfer', reason: 'registry' } },
    { procedure_id: 'konin', answers: { applicant_role: 'wife' }, prefilled: ['applicant_role'], prefill_sources: { applicant_role: 'derived' } },
  ];
  assert.deepEqual(sharedSources(ev, drafts), { parent_role: 'derived', prev: 'transfer', role: 'derived' });
});
