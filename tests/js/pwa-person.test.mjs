// One person picked into plain fields (`type: person`): whom the picker offers (`pick_self`) and which filled
// values were corrected; the cases are shared with server/prefill_check.py (tests/conformance/person.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { offeredTo, personFills, personCorrected } from '../../pwa/js/people.js';

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
