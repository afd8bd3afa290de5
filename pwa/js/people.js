// Household prefill of a repeat group (docs/procedure-format.md, `prefill_map`): the item a household
// member (or a mover of an imported 転出証明書情報) makes, and which item is whose. No DOM (tests/js/).
// The rule of "whose" is the server's (server/prefill_check.py, tests/conformance/people.json): an item is
// a person's when it agrees with them on more than half of the mapped values the person has; the mapped
// values it does not agree on are corrections (flagged to staff on the server).

import { phoneDigits } from './japan.js';

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** "" and null parts of an object are no answer (as the forms drop them); names compared as they are. */
function clean(v) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '' && x != null).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return v === '' ? null : v ?? null;
}

const same = (a, b) => JSON.stringify(clean(a)) === JSON.stringify(clean(b));

/** Two answers of field `f` the same value: a phone number by its digits only (03-1234-5678 and 0312345678 are
 * one number), anything else as it is. The twin of server/prefill_check.py same_answer. */
export function sameAnswer(f, a, b) {
  if (f && f.type === 'phone' && typeof a === 'string' && typeof b === 'string') return phoneDigits(a) === phoneDigits(b);
  return same(a, b);
}

/** The item that `person` makes: each mapped item field takes the person's attribute (when they have it). */
export function personItem(field, person) {
  const item = {};
  for (const [fid, attr] of Object.entries(field.prefill_map || {})) {
    // An entered person's member_id only names them on this device: never a value (a resident code) of an item.
    if (attr === 'member_id' && person.entered) continue;
    if (person[attr] != null && person[attr] !== '') item[fid] = clone(person[attr]);
  }
  return item;
}

/** {agree, differ: [item field ids]} when `item` is `person`'s, else null. */
export function matchPerson(field, item, person) {
  const mapped = Object.entries(field.prefill_map || {}).filter(([, attr]) => attr in person && !(attr === 'member_id' && person.entered));
  const subs = new Map((field.fields || []).map((x) => [x.id, x]));
  const differ = mapped.filter(([fid, attr]) => !sameAnswer(subs.get(fid), item ? item[fid] : undefined, person[attr])).map(([fid]) => fid);
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

// People entered in a life event (docs/procedure-format.md, "People across a bundle"): a person typed in
// one procedure's group of people is offered, one tap, in every later group of the bundle, with each
// group's own prefill_map. Person attributes are the link: an item gives its person through the group's
// map, the person gives a later group's item through that group's map.

/** Whether `v` holds an answer ("" parts of a name or kana are none). */
const given = (v) => v != null && v !== '' && !(typeof v === 'object' && !Array.isArray(v) && !Object.values(v).some((x) => x != null && x !== ''));

/** The person an item of `field` describes: each mapped attribute taken from its item field (personItem's inverse). */
export function itemPerson(field, item) {
  const person = {};
  for (const [fid, attr] of Object.entries(field.prefill_map || {})) if (item && given(item[fid])) person[attr] = clone(item[fid]);
  return person;
}

/**
 * The people entered in a bundle's procedures so far. `groups`: [{key, field, items, listed}] in the bundle's
 * order (`key` names the group, e.g. `tennyu.movers`; `listed` the people its picker lists from the profile).
 * An item taken from a listed person or from a person entered before is that person (attributes it adds,
 * e.g. the 個人番号 a later group asks, join them); any other item with a name is a new person
 * ({...attributes, member_id: `entered:{key}[i]` unless the group maps a resident code, entered: true}).
 */
export function enteredPeople(groups) {
  const out = [];
  for (const { key, field, items, listed = [] } of groups) {
    const known = [...listed, ...out];
    matchItems(field, items, known).forEach((m, i) => {
      const attrs = itemPerson(field, items[i]);
      if (m) {
        // A listed person taken here is carried too: a later group may list other people (転入's movers
        // of the 転出証明書情報, then 国保's household).
        let p = out.find((x) => x.member_id === m.member_id);
        if (!p) out.push(p = clone(listed.find((x) => x.member_id === m.member_id)));
        for (const [a, v] of Object.entries(attrs)) if (!(a in p)) p[a] = v;
        return;
      }
      if (!attrs.name) return; // nobody to pick by name yet
      out.push({ ...attrs, member_id: attrs.member_id || `entered:${key}[${i}]`, entered: !attrs.member_id || undefined });
    });
  }
  return out.map((p) => (p.entered ? p : Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'entered'))));
}

/**
 * A correction in the procedure where a person was entered, followed by a later group: the items of
 * `items` taken from a person of `before` (the people before the edit) whose value is still the one taken
 * get the person's new value (`after`, same member_id); a value changed in the later group itself stays
 * (it is a deliberate difference, marked there as a correction). A person whose values changed in more
 * than half of their attributes is someone else (an item removed and the list shifted): nothing follows.
 * Returns the new list, or null when nothing changed.
 */
export function followPeople(field, items, before, after) {
  if (!Array.isArray(items) || !items.length) return null;
  const byId = new Map(after.map((p) => [p.member_id, p]));
  let changed = false;
  const out = matchItems(field, items, before).map((m, i) => {
    const was = m && before.find((p) => p.member_id === m.member_id);
    const now = m && byId.get(m.member_id);
    if (!was || !now) return items[i];
    const attrs = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((a) => a !== 'member_id' && a !== 'entered');
    const moved = attrs.filter((a) => !same(was[a], now[a]));
    if (!moved.length || moved.length * 2 > attrs.length) return items[i];
    const item = { ...items[i] };
    for (const [fid, attr] of Object.entries(field.prefill_map || {})) {
      if (!moved.includes(attr) || !same(item[fid], was[attr])) continue;
      if (given(now[attr])) item[fid] = clone(now[attr]);
      else delete item[fid];
      changed = true;
    }
    return item;
  });
  return changed ? out : null;
}

/**
 * The people a group's picker offers in a bundle: the listed (household, transfer) people, then the people
 * entered in the bundle who are none of them (the resident filing, named in the shared fields, is in their
 * own household list: offered once).
 */
export function offeredPeople(listed, entered) {
  // The same person: the same resident code, or the same name and no attribute both have that differs.
  const isListed = (p) => listed.some((l) => l.member_id === p.member_id || (same(l.name, p.name)
    && Object.keys(p).every((a) => a === 'member_id' || a === 'entered' || !(a in l) || same(l[a], p[a]))));
  // `bundle`: offered from this application (the picker's 「この申請で入力した人」, values' source 'bundle').
  return [...listed, ...entered.filter((p) => !isListed(p)).map((p) => ({ ...p, bundle: true }))];
}

// One person picked into plain fields (`type: person`, `fills`: field id -> member attribute): the twin of
// server/prefill_check.py offered_people / person_corrections (tests/conformance/person.json).

/** The people a picker offers: with `pick_self: false` not the filer (`selfId`: the profile's resident_code). */
export function offeredTo(field, people, selfId) {
  return (people || []).filter((p) => field.pick_self !== false || p.member_id !== selfId);
}

/** The values a person gives the fields `field` fills (only the attributes they have), like personItem. */
export const personFills = (field, person) => personItem({ prefill_map: field.fills }, person);

/** The filled fields whose answers differ from the picked (and offered) person's; a blank one is not compared. */
export function personCorrected(field, answers, people, selfId) {
  const picked = answers[field.id];
  const person = typeof picked === 'string' && offeredTo(field, people, selfId).find((p) => p.member_id === picked);
  if (!person) return [];
  return Object.entries(field.fills || {}).filter(([fid, attr]) => attr in person && answers[fid] != null
    && answers[fid] !== '' && !same(answers[fid], person[attr])).map(([fid]) => fid);
}

/**
 * Pick `person` (null: nobody, 「ここにない人」) in person field `field`, whose current pick is `answers[field.id]`:
 * the fields it fills (but those in `skip`) take the person's values; a value the previous pick did not give as
 * it stands (typed or corrected) stays. Mutates `answers` (not the pick itself: the caller sets it); returns
 * the field ids whose value it set or cleared. The one rule of picker.js (a tap) and lifeevent.js copyShared
 * (a life event's shared pick reaching a procedure's own person field).
 */
export function pickPerson(field, answers, people, selfId, person, skip = new Set()) {
  const offered = offeredTo(field, people, selfId);
  const before = offered.find((p) => p.member_id === answers[field.id]) || null;
  const kept = before ? personCorrected(field, answers, people, selfId) : [];
  const now = person ? personFills(field, person) : {};
  const changed = [];
  for (const [fid, attr] of Object.entries(field.fills || {})) {
    if (skip.has(fid)) continue;
    const asFilled = before && attr in before && !kept.includes(fid);
    if (!asFilled && given(answers[fid])) continue; // typed or corrected: the resident's own value stays
    if (now[fid] !== undefined) answers[fid] = now[fid];
    else delete answers[fid];
    changed.push(fid);
  }
  return changed;
}
