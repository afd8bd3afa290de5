// The household picker of a repeat group prefilled from a list of people (`pick: true`): one labelled
// checkbox per person inside the group's fieldset (legend = the group's label), ticking adds the person's
// item, unticking removes it. Loaded only for a procedure that has such a group (formview.loadPicker).

import { t } from './i18n.js';
import { el } from './dom.js';
import { prefillNote } from './render.js';
import { matchItems, togglePerson } from './people.js';

export { fillPeople } from './people.js';

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
  const rel = person.relationship_to_head ? `（${person.relationship_to_head}）` : '';
  const first = [...ids][0];
  const note = (first && prefillNote(ctx, `${path}[${i}].${first}`)) || t('prefilled');
  return { ids, open: m.differ.length > 0, summary: `${nameText(person.name)}${rel}・${note}${t('memberOpen')}` };
}

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
    const rel = person.relationship_to_head ? `（${person.relationship_to_head}）` : '';
    if (i === firstEntered) box.append(el('p', { class: 'hint picker-entered', id: `${id}-pick-entered`, text: t('pickEntered') }));
    box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: `${nameText(person.name)}${rel}` })));
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
