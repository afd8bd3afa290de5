// One person picked into plain fields (`type: person`): whom the picker offers (`pick_self`) and which filled
// values were corrected; the cases are shared with server/prefill_check.py (tests/conformance/person.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { offeredTo, personFills, personCorrected, pickPerson } from '../../pwa/js/people.js';

const conf = JSON.parse(readFileSync(new URL('../conformance/person.json', import.meta.url), 'utf8'));
const { field, people } = conf;

test('conformance: pick_self false leaves out the filer, true offers everyone', () => {
  assert.deepEqual(offeredTo(field, people, conf.self_id).map((p) => p.member_id), conf.offered.pick_self_false);
  assert.deepEqual(offeredTo({ ...field, pick_self: true }, people, conf.self_id).map((p) => p.member_id), conf.offered.pick_self_true);
  assert.deepEqual(offeredTo({ ...field, pick_self: undefined }, people, conf.self_id).map((p) => p.member_id), conf.offered.pick_self_true);
});

for (const c of conf.cases) {
  test(`conformance: ${c.name}`, () => {
    assert.deepEqual(personCorrected(field, c.answers, people, conf.self_id), c.corrected);
  });
}

for (const c of conf.picks) {
  test(`conformance (pick): ${c.name}`, () => {
    const answers = structuredClone(c.answers);
    const person = people.find((p) => p.member_id === c.pick) || null;
    assert.deepEqual(pickPerson(field, answers, people, conf.self_id, person), c.changed);
    delete answers[field.id]; // the picker sets it; the server's twin too (compared without it)
    assert.deepEqual(answers, c.after);
  });
}

test('a person fills only the attributes they have, names byte for byte', () => {
  const values = personFills(field, people[1]);
  assert.deepEqual(Object.keys(values).sort(), ['child_birth_date', 'child_kana', 'child_name', 'child_sex']);
  assert.equal(values.child_name.family, '葛\u{E0100}城');
  values.child_name.given = 'x';
  assert.notEqual(people[1].name.given, 'x'); // a copy
  assert.deepEqual(Object.keys(personFills(field, people[2])).sort(), Object.keys(personItem2(people[2])).sort());
});

const personItem2 = (p) => Object.fromEntries(Object.entries(field.fills).filter(([, a]) => p[a] != null && p[a] !== '').map(([f, a]) => [f, p[a]]));

test('a person field asks on its step unless every field it fills is answered elsewhere (a life event)', async () => {
  const { asksAnything } = await import('../../pwa/js/steps.js');
  const target = { id: 'child_name', type: 'name', label: { ja: '子の氏名' } };
  const result = { shown: null, errors: [] };
  assert.equal(asksAnything([field, target], { answers: {}, prefilled: [] }, result), true);
  assert.equal(asksAnything([field], { answers: {}, prefilled: [] }, result), false);
});

test("the review shows a person field as the picked person's name, and 未入力 when that name is empty", async () => {
  const { formatValue } = await import('../../pwa/js/formreview.js');
  const { t } = await import('../../pwa/js/i18n.js');
  const field = { id: 'who', type: 'person', prefill: 'household_members', fills: { who_name: 'name', who_sex: 'sex' } };
  assert.equal(formatValue(field, 'R1', { who: 'R1', who_name: { family: '山田', given: '太郎' } }), '山田 太郎');
  for (const answers of [{ who: 'R1' }, { who: 'R1', who_name: '' }, { who: 'R1', who_name: { family: '', given: '' } }]) {
    assert.equal(formatValue(field, 'R1', answers), t('notEntered'));
    assert.notEqual(formatValue(field, 'R1', answers), t('prefilled'), 'never 「登録情報から入力」 as a value');
  }
});
