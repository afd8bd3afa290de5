// Household prefill of a repeat group (pwa/js/people.js): the items people make, whose item is which and
// which values were corrected; the cases are shared with server/prefill_check.py (tests/conformance/people.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { personItem, matchItems, correctedPaths, togglePerson, fillPeople } from '../../pwa/js/people.js';

const conf = JSON.parse(readFileSync(new URL('../conformance/people.json', import.meta.url), 'utf8'));
const { field, people } = conf;

for (const c of conf.cases) {
  test(`conformance: ${c.name}`, () => {
    assert.deepEqual(matchItems(field, c.items, people).map((m) => (m ? m.member_id : null)), c.matches);
    assert.deepEqual(correctedPaths(field, 'movers', c.items, people), c.corrected);
  });
}

test('a person makes an item of the mapped attributes only, names byte for byte', () => {
  const item = personItem(field, people[1]);
  assert.deepEqual(Object.keys(item).sort(), ['mover_birth_date', 'mover_kana', 'mover_name', 'mover_sex']);
  assert.equal(item.mover_name.family, '葛\u{E0100}城');
  assert.equal(item.mover_name.family.normalize('NFC') === item.mover_name.family, true);
  item.mover_name.given = 'x';
  assert.equal(people[1].name.given, '陽菜'); // a copy, not the profile's own object
  assert.deepEqual(personItem(field, people[2]), { mover_name: people[2].name, mover_birth_date: '2001-01-01' });
});

test('ticking adds the person at the end; unticking removes only their items', () => {
  const hand = { mover_name: { family: '田中', given: '花' } };
  let items = togglePerson(field, [hand], people, people[1], true);
  items = togglePerson(field, items, people, people[0], true);
  assert.deepEqual(matchItems(field, items, people).map((m) => m && m.member_id), [null, 'R0013', 'R0004']);
  items[1].mover_birth_date = '2018-03-04'; // corrected, still hers
  items = togglePerson(field, items, people, people[1], false);
  assert.deepEqual(items, [hand, personItem(field, people[0])]);
  assert.deepEqual(togglePerson(field, null, people, people[0], false), []);
});

import { newDraftRecord } from '../../pwa/js/drafts.js';

const compiled = {
  id: 'p', version: '1.0.0', title: { ja: 'p' }, sections: [{ id: 's', fields: [
    { id: 'applicant', type: 'name', prefill: 'name', label: { ja: '氏名' } },
    { id: 'prev', type: 'address', prefill: 'previous_address', label: { ja: '前住所' } },
    { ...field, pick: true },
    { ...field, id: 'all', pick: false },
  ] }],
};
let n = 0;
const uuid = () => `u${n++}`;
const profile = {
  verified: true, sources: { household_members: 'registry', previous_address: 'transfer', name: 'registry' },
  profile: { name: people[0].name, previous_address: { prefecture: '大阪府' }, household_members: people },
};

test('a new draft keeps the people for the picker, picks nobody, fills a non-picking group with everyone', () => {
  const d = newDraftRecord({ path: 'x', compiled }, { profile, uuid });
  assert.deepEqual(d.people.household_members, { source: 'registry', list: people });
  assert.equal(d.answers.movers, undefined);
  assert.deepEqual(d.fill_people, ['all']);
  // The non-picking group gets everyone when the form first opens, once.
  assert.equal(fillPeople(d, compiled.sections[0].fields), true);
  assert.deepEqual(d.answers.all, people.map((p) => personItem(field, p)));
  assert.equal(d.answers.movers, undefined);
  d.answers.all = [];
  assert.equal(fillPeople(d, compiled.sections[0].fields), false);
  assert.deepEqual(d.answers.all, []);
  assert.deepEqual(d.prefill_sources, { applicant: 'registry', prev: 'transfer', all: 'registry' });
  assert.deepEqual(d.prefilled, ['applicant', 'prev', 'all']);
});

test('staff acting for a resident get that resident\'s profile only', () => {
  const acting = { id: 'R0004', name: '葛城 美咲' };
  assert.deepEqual(newDraftRecord({ path: 'x', compiled }, { profile, acting, uuid }).answers, {});
  const theirs = newDraftRecord({ path: 'x', compiled }, { profile: { ...profile, for: 'R0004' }, acting, uuid });
  assert.deepEqual(theirs.answers.applicant, people[0].name);
  assert.equal(theirs.on_behalf_of, 'R0004');
  assert.equal(theirs.people.household_members.list.length, people.length);
});
