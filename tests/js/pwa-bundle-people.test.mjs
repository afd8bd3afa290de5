// People across a life event (pwa/js/people.js enteredPeople, followPeople): a person typed in 転入届's
// movers is offered in 国保's members with 国保's own mapping, byte for byte; corrections follow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enteredPeople, followPeople, itemPerson, offeredPeople, personItem, togglePerson, matchItems } from '../../pwa/js/people.js';

const movers = {
  id: 'movers', type: 'group', prefill: 'transfer_movers', pick: true,
  prefill_map: { mover_name: 'name', mover_kana: 'name_kana', mover_birth_date: 'birth_date', mover_sex: 'sex', mover_relationship: 'relationship_to_head', mover_resident_code: 'member_id' },
};
const members = {
  id: 'members', type: 'group', prefill: 'household_members', pick: true,
  prefill_map: { member_name: 'name', member_kana: 'name_kana', member_birth_date: 'birth_date', member_sex: 'sex', member_relationship: 'relationship_to_head', member_my_number: 'my_number' },
};
const third = { id: 'kids', type: 'group', prefill: 'household_members', pick: true, prefill_map: { child_name: 'name', child_my_number: 'my_number' } };

// An IVS name (葛 + VS17): never normalized, carried as typed.
const ivs = { family: '葛\u{E0100}城', given: '陽菜' };
const typed = { mover_name: ivs, mover_kana: { family: 'カツラギ', given: 'ヒナ' }, mover_birth_date: '2018-04-02', mover_sex: 'female', mover_relationship: '子' };
const other = { mover_name: { family: '葛城', given: '大' }, mover_kana: { family: 'カツラギ', given: 'ダイ' }, mover_birth_date: '1985-01-01', mover_sex: 'male', mover_relationship: '世帯主', mover_resident_code: '12345678901' };

test('an item gives its person through the map; the person gives a later item through that map, byte for byte', () => {
  const p = itemPerson(movers, typed);
  assert.deepEqual(p, { name: ivs, name_kana: typed.mover_kana, birth_date: '2018-04-02', sex: 'female', relationship_to_head: '子' });
  const people = enteredPeople([{ key: 'tennyu.movers', field: movers, items: [typed, other] }]);
  assert.equal(people.length, 2);
  assert.equal(people[0].member_id, 'entered:tennyu.movers[0]');
  assert.equal(people[0].entered, true);
  assert.equal(people[1].member_id, '12345678901'); // a typed resident code names them
  assert.equal(people[1].entered, undefined);
  const item = personItem(members, people[0]);
  assert.deepEqual(item, { member_name: ivs, member_kana: typed.mover_kana, member_birth_date: '2018-04-02', member_sex: 'female', member_relationship: '子' });
  assert.equal(JSON.stringify(item.member_name), JSON.stringify(typed.mover_name));
  item.member_name.given = 'x';
  assert.equal(typed.mover_name.given, '陽菜'); // a copy
  // An entered person's device-only id never becomes a resident code.
  assert.equal(personItem(movers, people[0]).mover_resident_code, undefined);
  assert.equal(personItem(movers, people[1]).mover_resident_code, '12345678901');
});

test('listed people and people already entered are not offered twice; a later group adds the 個人番号', () => {
  const listed = [{ member_id: 'R1', name: { family: '山田', given: '太郎' }, birth_date: '1980-01-01' }];
  const fromList = personItem(movers, listed[0]);
  const first = enteredPeople([{ key: 'tennyu.movers', field: movers, items: [fromList, typed], listed }]);
  // The listed person taken is carried (a later group may list other people), offered once where listed.
  assert.deepEqual(first.map((p) => p.member_id), ['R1', 'entered:tennyu.movers[1]']);
  assert.deepEqual(offeredPeople(listed, first).map((p) => [p.member_id, !!p.bundle]), [['R1', false], ['entered:tennyu.movers[1]', true]]);
  assert.deepEqual(offeredPeople([], first).map((p) => p.member_id), ['R1', 'entered:tennyu.movers[1]']);
  first.shift();
  // 国保: the entered child ticked, their 個人番号 typed there; a third group then gets it without asking.
  let kokuho = togglePerson(members, [], [...listed, ...first], first[0], true);
  kokuho = [{ ...kokuho[0], member_my_number: '123456789018' }];
  const people = enteredPeople([
    { key: 'tennyu.movers', field: movers, items: [fromList, typed], listed },
    { key: 'kokuho-kanyu.members', field: members, items: kokuho, listed },
  ]);
  assert.deepEqual(people.map((p) => p.member_id), ['R1', 'entered:tennyu.movers[1]']);
  assert.equal(people[1].my_number, '123456789018');
  assert.deepEqual(personItem(third, people[1]), { child_name: ivs, child_my_number: '123456789018' });
  // A person typed only in the later group (not moving) is offered after it too.
  const more = enteredPeople([
    { key: 'tennyu.movers', field: movers, items: [typed] },
    { key: 'kokuho-kanyu.members', field: members, items: [{ member_name: { family: '佐藤', given: '一' } }] },
  ]);
  assert.deepEqual(more.map((p) => p.member_id), ['entered:tennyu.movers[0]', 'entered:kokuho-kanyu.members[0]']);
  // An item with no name yet is nobody to pick.
  assert.deepEqual(enteredPeople([{ key: 'k', field: movers, items: [{ mover_sex: 'male' }, null] }]), []);
});

test('a correction where the person was entered follows into later items that still hold the taken value', () => {
  const before = enteredPeople([{ key: 'tennyu.movers', field: movers, items: [typed] }]);
  const taken = personItem(members, before[0]);
  const fixed = { ...typed, mover_kana: { family: 'カツラギ', given: 'ハルナ' } };
  const after = enteredPeople([{ key: 'tennyu.movers', field: movers, items: [fixed] }]);
  const followed = followPeople(members, [taken], before, after);
  assert.deepEqual(followed[0].member_kana, { family: 'カツラギ', given: 'ハルナ' });
  assert.deepEqual(matchItems(members, followed, after).map((m) => m && m.member_id), ['entered:tennyu.movers[0]']);
  // A value changed in the later group itself stays as it is (a deliberate difference).
  const own = { ...taken, member_kana: { family: 'カツラギ', given: 'ヒナコ' } };
  assert.equal(followPeople(members, [own], before, after), null);
  // Another person in the same place (the first removed, the list shifted): nothing follows.
  const shifted = enteredPeople([{ key: 'tennyu.movers', field: movers, items: [other] }]);
  assert.equal(followPeople(members, [taken], before, shifted.map((p) => ({ ...p, member_id: before[0].member_id }))), null);
  assert.equal(followPeople(members, null, before, after), null);
});

test("a life event's people (of the shared answers) come first: the newborn typed once is picked in 児童手当", () => {
  const shared = { child_name: { family: '葛\u{E0100}城', given: '結' }, child_kana: { family: 'カツラギ', given: 'ユイ' }, birth_date: '2026-11-30', parent_name: { family: '葛城', given: '大' }, parent_my_number: '123456789018' };
  const lead = [
    { key: 'event.child', field: { prefill_map: { child_name: 'name', child_kana: 'name_kana', birth_date: 'birth_date' } }, items: [shared] },
    { key: 'event.parent', field: { prefill_map: { parent_name: 'name', parent_my_number: 'my_number' } }, items: [shared] },
  ];
  const people = enteredPeople(lead);
  assert.deepEqual(people.map((p) => p.member_id), ['entered:event.child[0]', 'entered:event.parent[0]']);
  const children = { prefill_map: { child_name: 'name', child_kana: 'name_kana', child_birth_date: 'birth_date', child_my_number: 'my_number' } };
  assert.deepEqual(personItem(children, people[0]), { child_name: shared.child_name, child_kana: shared.child_kana, child_birth_date: '2026-11-30' });
  // The parent ticked in 国保 brings their 個人番号: not asked again.
  assert.equal(personItem(members, people[1]).member_my_number, '123456789018');
  // Not yet named in the shared answers: nobody to offer.
  assert.deepEqual(enteredPeople([{ ...lead[0], items: [{}] }]), []);
});

test('a person of the shared answers who is in the household list is offered once', () => {
  const listed = [{ member_id: 'R1', name: { family: '葛城', given: '大' }, birth_date: '1985-01-01', relationship_to_head: '世帯主' }];
  const me = enteredPeople([{ key: 'event.applicant', field: { prefill_map: { applicant_name: 'name' } }, items: [{ applicant_name: { family: '葛城', given: '大' } }] }]);
  const kid = enteredPeople([{ key: 'tennyu.movers', field: movers, items: [typed] }]);
  assert.deepEqual(offeredPeople(listed, [...me, ...kid]).map((p) => p.member_id), ['R1', 'entered:tennyu.movers[0]']);
  assert.deepEqual(offeredPeople([], me).map((p) => p.member_id), ['entered:event.applicant[0]']);
});
