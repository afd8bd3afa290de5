// The household picker of a repeat group prefilled from a list of people (`pick: true`): one labelled
// checkbox per person inside the group's fieldset (legend = the group's label), ticking adds the person's
// item, unticking removes it. Also a person field (`type: person`): one radio per person, filling plain
// fields. Loaded only for a procedure that has such a group or field (formview.loadPicker).

import { t } from './i18n.js';
import { el } from './dom.js';
import { describedBy, domId, foldBox, hintNodes, labelContent, prefillNote, renderFields } from './render.js';
import { matchItems, offeredTo, personCorrected, pickPerson, togglePerson } from './people.js';
import { fieldPath, getPath, setPath } from './paths.js';

export { fillPeople, offeredTo } from './people.js';

const nameText = (n) => (n && typeof n === 'object' ? [n.family, n.given].filter(Boolean).join(' ') : n || '');

/** Prefilled and corrected item paths for the renderer (labels say where a value came from). */
export function markItems(field, ctx, path, items, people, source) {
  for (const set of [ctx.prefilled, ctx.locked, ctx.corrected]) {
    for (const p of [...set]) if (p.startsWith(`${path}[`)) set.delete(p);
  }
  matchItems(field, items, people).forEach((m, i) => {
    if (!m) return;
    // A person entered earlier in the life event: their values came from there ('bundle'), not the registry.
    const from = people.find((x) => x.member_id === m.member_id).bundle ? 'bundle' : source;
    for (const fid of Object.keys(field.prefill_map || {})) {
      const p = `${path}[${i}].${fid}`;
      if (m.differ.includes(fid)) ctx.corrected.add(p);
      else if (items[i][fid] !== undefined) {
        ctx.prefilled.add(p);
        ctx.sources.set(p, from);
        if (field.prefill_editable === false) ctx.locked.add(p);
      }
    }
  });
}

/**
 * A picked member's item as one line (issue 12: a glance per member, not per value): the fields a person
 * fills (`prefill_map`) go in a <details> whose summary is 「name（続柄）・登録情報から入力（開いて確認・訂正）」, open when a value
 * was corrected; null for an item added by hand (every field shown as usual).
 */
export function memberLine(field, items, people, i, ctx, path) {
  const m = matchItems(field, items, people)[i];
  const person = m && people.find((p) => p.member_id === m.member_id);
  if (!person) return null;
  // Only the values the person has: one the registry never discloses (個人番号) stays a field to answer.
  const ids = new Set(Object.entries(field.prefill_map || {}).filter(([, attr]) => person[attr] != null && person[attr] !== '').map(([fid]) => fid));
  const first = [...ids][0];
  return { ids, open: m.differ.length > 0, summary: lineText(person, ctx, first && `${path}[${i}].${first}`) };
}

const personText = (person) => `${nameText(person.name)}${person.relationship_to_head ? `（${person.relationship_to_head}）` : ''}`;
// 「name（続柄）・登録情報から入力（開いて確認・訂正）」: the one line of a person's filled values.
const lineText = (person, ctx, path) => `${personText(person)}・${(path && prefillNote(ctx, path)) || t('prefilled')}${t('memberOpen')}`;

/**
 * The checkboxes: {nodes, refresh()} (`setItems(list)` writes the group's answer and redraws the items;
 * refresh() ticks the boxes of the people who have an item, after an item was removed by hand).
 */
export function pickerBox(field, ctx, id, people, items, setItems, source) {
  const box = el('div', { class: 'choices picker' });
  // The people entered earlier in a life event come after the household, under their own heading.
  const firstEntered = people.findIndex((p) => p.bundle);
  const inputs = people.map((person, i) => {
    const input = el('input', { type: 'checkbox', id: `${id}-pick-${i}`, name: `${id}-pick`, value: person.member_id });
    input.addEventListener('change', () => setItems(togglePerson(field, items(), people, person, input.checked)));
    if (i === firstEntered) box.append(el('p', { class: 'hint picker-entered', id: `${id}-pick-entered`, text: t('pickEntered') }));
    box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: personText(person) })));
    return input;
  });
  const refresh = () => {
    const picked = new Set(matchItems(field, items(), people).filter(Boolean).map((m) => m.member_id));
    people.forEach((person, i) => { inputs[i].checked = picked.has(person.member_id); });
  };
  refresh();
  const hint = firstEntered === 0 ? 'pickHintBundle' : source === 'transfer' ? 'pickHintTransfer' : 'pickHint';
  return { nodes: [el('p', { class: 'hint', id: `${id}-pick-hint`, text: t(hint) }), box], refresh };
}

/** After a change inside the items: mark them again and update each label's note in place. */
export function relabel(body, field, ctx, path, items, people) {
  markItems(field, ctx, path, items, people.list, people.source);
  renote(body, ctx);
}

function renote(body, ctx) {
  for (const node of body.querySelectorAll('[data-path]')) {
    const holder = node.querySelector(':scope > legend, :scope > label');
    if (!holder) continue;
    const note = prefillNote(ctx, node.getAttribute('data-path'));
    let span = holder.querySelector(':scope > .prefilled');
    if (!note) { if (span) span.remove(); continue; }
    if (!span) holder.append(span = el('span', { class: 'prefilled' }));
    span.textContent = note;
  }
}

/** Prefilled and corrected marks of the fields a person field fills (like markItems for one person). */
function markPerson(field, ctx, person, source, offered, self) {
  const differ = person ? personCorrected(field, ctx.answers, offered, self) : [];
  for (const [fid, attr] of Object.entries(field.fills || {})) {
    for (const set of [ctx.prefilled, ctx.locked, ctx.corrected]) set.delete(fid);
    if (!person || !(attr in person) || ctx.answers[fid] == null || ctx.answers[fid] === '') continue;
    if (differ.includes(fid)) { ctx.corrected.add(fid); continue; }
    ctx.prefilled.add(fid);
    ctx.sources.set(fid, person.bundle ? 'bundle' : source);
    if (field.prefill_editable === false) ctx.locked.add(fid);
  }
}

/**
 * A person field: a fieldset (legend = its label) of radios, one per person offered 「name（続柄）」 and
 * 「ここにない人（入力する）」. Picking fills the fields it `fills` (`targets`: those rendered here, after it)
 * and shows them as one line, like a picked member; another choice replaces or clears only the values still
 * as filled (a value typed or corrected stays).
 */
export function personBox(field, ctx, path, people, targets, base) {
  const id = domId(ctx.scope, path);
  const offered = offeredTo(field, people.list, people.self);
  const errorP = el('p', { class: 'error-text', id: id + '-error', hidden: true });
  const fs = el('fieldset', { 'data-path': path, 'data-field': field.id, class: 'field', 'aria-describedby': describedBy(field, id) },
    el('legend', {}, labelContent(field, ctx, path)), hintNodes(field, id), errorP);
  const body = el('div', { class: 'person-values' });
  const picked = () => offered.find((p) => p.member_id === getPath(ctx.answers, path)) || null;
  const empty = (v) => v == null || v === '' || (typeof v === 'object' && !Object.values(v).some((x) => x != null && x !== ''));
  const draw = () => {
    const person = picked();
    markPerson(field, ctx, person, people.source, offered, people.self);
    body.replaceChildren();
    const on = person ? targets.filter((f) => !empty(ctx.answers[f.id]) && field.fills[f.id] in person) : [];
    if (on.length) {
      const open = on.some((f) => ctx.corrected.has(f.id));
      const box = foldBox('member-values', lineText(person, ctx, on[0].id), open);
      renderFields(box, on, ctx, base);
      body.append(box);
    }
    renderFields(body, targets.filter((f) => !on.includes(f)), ctx, base);
  };
  const choose = (person) => {
    for (const fid of pickPerson(field, ctx.answers, people.list, people.self, person)) {
      ctx.onChange(fieldPath(base, fid), { typed: false, picked: Boolean(person) });
    }
    setPath(ctx.answers, path, person ? person.member_id : null);
    ctx.onChange(path, { typed: false });
    draw();
  };
  const box = el('div', { class: 'choices picker' });
  const current = picked();
  [...offered, null].forEach((person, i) => {
    const input = el('input', { type: 'radio', id: i ? `${id}-${i}` : id, name: id, value: person ? person.member_id : '',
      checked: person ? person === current : !current && targets.some((f) => !empty(ctx.answers[f.id])) });
    input.addEventListener('change', () => { if (input.checked) choose(person); });
    box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: person ? personText(person) : t('personNotListed') })));
  });
  // A value typed or corrected inside: its note and the line's summary follow at once.
  body.addEventListener('change', () => {
    const person = picked();
    markPerson(field, ctx, person, people.source, offered, people.self);
    renote(body, ctx);
    const summary = body.querySelector(':scope > details > summary');
    if (summary && person) summary.textContent = lineText(person, ctx, targets.find((f) => ctx.prefilled.has(f.id) || ctx.corrected.has(f.id))?.id);
  });
  draw();
  fs.append(box);
  // The filled fields follow the fieldset (its legend groups the radios only), one line when a person is picked.
  return el('div', { class: 'person' }, fs, body);
}


