// Household prefill of a repeat group (docs/procedure-format.md, `prefill_map`): the item a household
// member (or a mover of an imported 転出証明書情報) makes, and which item is whose. No DOM (tests/js/).
// The rule of "whose" is the server's (server/prefill_check.py, tests/conformance/people.json): an item is
// a person's when it agrees with them on more than half of the mapped values the person has; the mapped
// values it does not agree on are corrections (flagged to staff on the server).

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** "" and null parts of an object are no answer (as the forms drop them); names compared as they are. */
function clean(v) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '' && x != null).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return v === '' ? null : v ?? null;
}

const same = (a, b) => JSON.stringify(clean(a)) === JSON.stringify(clean(b));

/** The item that `person` makes: each mapped item field takes the person's attribute (when they have it). */
export function personItem(field, person) {
  const item = {};
  for (const [fid, attr] of Object.entries(field.prefill_map || {})) {
    if (person[attr] != null && person[attr] !== '') item[fid] = clone(person[attr]);
  }
  return item;
}

/** {agree, differ: [item field ids]} when `item` is `person`'s, else null. */
export function matchPerson(field, item, person) {
  const mapped = Object.entries(field.prefill_map || {}).filter(([, attr]) => attr in person);
  const differ = mapped.filter(([fid, attr]) => !same(item ? item[fid] : undefined, person[attr])).map(([fid]) => fid);
  const agree = mapped.length - differ.length;
  return agree * 2 > mapped.length ? { agree, differ } : null;
}

/** Per item: {member_id, differ} of the person it best agrees with, or null (added by hand). */
export function matchItems(field, items, people) {
  return (items || []).map((item) => {
    let best = null;
    for (const p of people || []) {
      const m = item && typeof item === 'object' ? matchPerson(field, item, p) : null;
      if (m && (!best || m.agree > best.agree)) best = { member_id: p.member_id, agree: m.agree, differ: m.differ };
    }
    return best && { member_id: best.member_id, differ: best.differ };
  });
}

/** The paths of the items' values that differ from whom the item was taken from (the server's flag). */
export function correctedPaths(field, path, items, people) {
  return matchItems(field, items, people).flatMap((m, i) => (m ? m.differ.map((fid) => `${path}[${i}].${fid}`) : []));
}

/** Items after ticking (`on`) or unticking a person: add their item at the end, or remove their items. */
export function togglePerson(field, items, people, person, on) {
  const list = Array.isArray(items) ? items.slice() : [];
  if (on) return [...list, personItem(field, person)];
  const matches = matchItems(field, list, people);
  return list.filter((_, i) => !(matches[i] && matches[i].member_id === person.member_id));
}

/**
 * The groups of a new draft that take every person as an item (`fill_people`, no `pick`): filled once, when
 * the form first opens. Returns whether anything changed (the draft is then saved whole).
 */
export function fillPeople(d, fields) {
  const ids = d.fill_people || [];
  if (!ids.length) return false;
  for (const f of fields) {
    const people = ids.includes(f.id) && d.people && d.people[f.prefill];
    if (people) d.answers[f.id] = people.list.map((person) => personItem(f, person));
  }
  d.fill_people = [];
  return true;
}
