// Steps (pwa/js/steps.js): one section per screen; a section with nothing to answer (notices only, fully
// prefilled with valid values) folds into the review; the time shown before
// starting and the documents to have at hand. Evaluated with the real form logic (form.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateForm } from '../../pwa/js/form.js';
import { stepSections, stepBeside, asksAnything, aboutTime, documentsAtHand, foldedFields } from '../../pwa/js/steps.js';
import { partOf } from '../../pwa/js/parties.js';
import { readFileSync } from 'node:fs';

const FORM = {
  id: 'p', version: '1.0.0', title: { ja: 'p' },
  sections: [
    { id: 'intro', title: { ja: 'はじめに' }, fields: [{ id: 'hello', type: 'notice', label: { ja: 'ご案内' } }] },
    { id: 'you', title: { ja: 'あなた' }, fields: [
      { id: 'name', type: 'text', required: true, label: { ja: '氏名' } },
      { id: 'phone', type: 'phone', required: true, label: { ja: '電話' } },
    ] },
    { id: 'move', title: { ja: '引っ越しの内容' }, fields: [{ id: 'reason', type: 'text', required: true, label: { ja: '理由' } }] },
    { id: 'desk', title: { ja: '窓口' }, staff_only: true, fields: [{ id: 'memo', type: 'text', label: { ja: 'メモ' } }] },
    { id: 'partner', title: { ja: '相手' }, party: 'partner', fields: [{ id: 'p_name', type: 'text', label: { ja: '氏名' } }] },
  ],
};
// The sections shown to a filer, as formview.js decides them: a resident gets their own part (partOf) without
// staff-only sections (sectionShown); staff at the counter get every section of every party.
const shown = (f, staff = false) => (staff ? f : partOf(f, '')).sections.map((s, i) => ({ s, i })).filter(({ s }) => staff || !s.staff_only);
const stepsOf = (d) => stepSections(shown(FORM), d, evaluateForm(FORM, d.answers)).map(({ s }) => s.id);

test('notices only, staff-only and another party\'s sections are no step', () => {
  assert.deepEqual(stepsOf({ answers: {}, prefilled: [] }), ['you', 'move']);
});

test('staff filing a two-person procedure at the counter: the other party\'s section is a step too', () => {
  const staffSteps = stepSections(shown(FORM, true), { answers: {}, prefilled: [] }, evaluateForm(FORM, {}, { filer: 'staff' }), undefined, true);
  assert.deepEqual(staffSteps.map(({ s }) => s.id), ['you', 'move', 'desk', 'partner']);
  // Prefilled with valid values, the partner's section folds into the review for staff as well.
  const d = { answers: { p_name: '山田 太郎' }, prefilled: ['p_name'] };
  assert.deepEqual(stepSections(shown(FORM, true), d, evaluateForm(FORM, d.answers, { filer: 'staff' }), undefined, true).map(({ s }) => s.id), ['you', 'move', 'desk']);
});

test('a fully prefilled section folds into the review; an invalid or emptied prefill brings it back', () => {
  const d = { answers: { name: '山田 花子', phone: '0312345678' }, prefilled: ['name', 'phone'] };
  assert.deepEqual(stepsOf(d), ['move']);
  assert.deepEqual(stepsOf({ ...d, answers: { ...d.answers, phone: '' } }), ['you', 'move']);
  assert.deepEqual(stepsOf({ ...d, answers: { ...d.answers, phone: '12' } }), ['you', 'move']);  // not a phone number
  // Typed (not prefilled) answers still make a step: the resident may go back to it.
  assert.deepEqual(stepsOf({ answers: { name: 'a', phone: '0312345678' }, prefilled: [] }), ['you', 'move']);
});

test('a group the resident picks from always asks', () => {
  const g = [{ id: 'movers', type: 'group', pick: true, prefill: 'household_members', label: { ja: '異動者' }, fields: [{ id: 'n', type: 'text', label: { ja: '氏名' } }] }];
  const answers = { movers: [{ n: 'a' }] };
  assert.equal(asksAnything(g, { answers, prefilled: ['movers'] }, evaluateForm({ sections: [{ id: 's', title: { ja: 's' }, fields: g }] }, answers)), true);
});

test('next and back step among the steps only', () => {
  const list = [{ i: 1 }, { i: 2 }, { i: 5 }];
  assert.equal(stepBeside(list, 2, 1).i, 5);
  assert.equal(stepBeside(list, 2, -1).i, 1);
  assert.equal(stepBeside(list, 0, 1).i, 1);  // from a folded section opened by the review
  assert.equal(stepBeside(list, 5, 1), null);
  assert.equal(stepBeside(list, 1, -1), null);
});

test('the time before starting: tens of seconds under a minute, then whole minutes', () => {
  assert.deepEqual(aboutTime(38.4), { key: 'aboutSeconds', n: 40 });
  assert.deepEqual(aboutTime(4), { key: 'aboutSeconds', n: 10 });
  assert.deepEqual(aboutTime(84), { key: 'aboutMinutes', n: 1 });
  assert.deepEqual(aboutTime(166), { key: 'aboutMinutes', n: 3 });
  assert.equal(aboutTime(undefined), null);
});

test('documents at hand are the unconditional ones', () => {
  const c = { documents: [{ id: 'card', label: { ja: '本人確認書類' } }, { id: 'poa', label: { ja: '委任状' }, required_if: { op: 'ref', name: 'x' } }] };
  const { always, sometimes } = documentsAtHand(c);
  assert.deepEqual(always.map((x) => x.id), ['card']);
  assert.deepEqual(sometimes.map((x) => x.id), ['poa']);
});

test('staff filing at the counter: the staff-only section is a step of theirs', () => {
  const staffSteps = stepSections(shown(partOf(FORM, ''), true), { answers: {}, prefilled: [] }, evaluateForm(FORM, {}, { filer: 'staff' }), undefined, true);
  assert.deepEqual(staffSteps.map(({ s }) => s.id), ['you', 'move', 'desk']);
});

test('conformance with the time model (tests/conformance/steps.json, also run by tests/test_timing.py)', () => {
  const conf = JSON.parse(readFileSync(new URL('../conformance/steps.json', import.meta.url), 'utf8'));
  const p = conf.procedure;
  const list = stepSections(shown(p), conf.draft, evaluateForm(p, conf.draft.answers));
  assert.deepEqual(list.map(({ s }) => s.id), conf.steps);
});

// The prefilled values of a step fold into one line (render.js renderFields, ctx.fold).
const FOLD = JSON.parse(readFileSync(new URL('../conformance/fold.json', import.meta.url), 'utf8'));
const foldOf = (sid, d = FOLD.draft, staff = false) => {
  const p = FOLD.procedure;
  const fields = p.sections.find((s) => s.id === sid).fields;
  const f = foldedFields(fields, d, evaluateForm(p, d.answers, staff ? { filer: 'staff' } : {}), staff);
  return f && { ids: [...f.ids], open: f.open };
};

test('conformance with the time model (tests/conformance/fold.json, also run by tests/test_timing.py)', () => {
  const p = FOLD.procedure;
  const list = stepSections(shown(p), FOLD.draft, evaluateForm(p, FOLD.draft.answers));
  assert.deepEqual(list.map(({ s }) => s.id), Object.keys(FOLD.fold));
  for (const { s } of list) assert.deepEqual(foldOf(s.id)?.ids || [], FOLD.fold[s.id], s.id);
});

test('a prefill that is absent, emptied or invalid is a field to answer in its place, not folded', () => {
  const d = (answers) => ({ ...FOLD.draft, answers: { ...FOLD.draft.answers, ...answers } });
  assert.deepEqual(foldOf('you', d({ applicant_phone: '12' })).ids, ['applicant_name', 'applicant_address']);
  assert.deepEqual(foldOf('you', d({ applicant_phone: '' })).ids, ['applicant_name', 'applicant_address']);
  // Two values left of three still fold; one alone does not (FOLD_MIN).
  assert.equal(foldOf('with_group', d({ g_phone: null })), null);
  assert.equal(foldOf('you', { ...FOLD.draft, prefilled: ['applicant_name'] }), null);
});

test('a corrected value stays inside and opens the line; staff filing fold a staff-only prefill too', () => {
  assert.equal(foldOf('you').open, false);
  const d = { ...FOLD.draft, answers: { ...FOLD.draft.answers, applicant_phone: '0398765432' }, typed: ['applicant_phone'] };
  assert.deepEqual(foldOf('you', d), { ids: ['applicant_name', 'applicant_phone', 'applicant_address'], open: true });
  assert.deepEqual(foldOf('you', FOLD.draft, true).ids, ['applicant_name', 'applicant_phone', 'desk_name', 'applicant_address']);
});

test('a choice derived from the registry is noted as a guess to confirm and stays out of the fold', async () => {
  const { prefillNote } = await import('../../pwa/js/render.js');
  const ctx = { prefilled: new Set(['role', 'name']), sources: new Map([['role', 'derived'], ['name', 'registry']]), locked: new Set() };
  assert.equal(prefillNote(ctx, 'role'), '登録情報から推定（確認してください）');
  assert.equal(prefillNote(ctx, 'name'), '登録情報から入力');
  // A value seeded from a derived one (a life event's shared field) is derived by its source, not its definition.
  const fields = [{ id: 'role', type: 'choice' }, { id: 'n1', type: 'name' }, { id: 'n2', type: 'phone' }];
  const d = { answers: { role: 'wife', n1: { family: '山田', given: '花子' }, n2: '0312345678' }, prefilled: ['role', 'n1', 'n2'], prefill_sources: { role: 'derived' } };
  assert.deepEqual([...foldedFields(fields, d, { shown: null, errors: [] }).ids], ['n1', 'n2']);
});
