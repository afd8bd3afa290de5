// What the form pages share (a draft's pages and review, a life event's combined form): opening a draft,
// the field context for the renderer, error summaries. The review list and sending are in formreview.js.

import { t, tx } from './i18n.js';
import { store } from './db.js';
import { el } from './dom.js';
import { errorText } from './render.js';
import { evaluateForm } from './form.js';
import { partOf } from './parties.js';
import { evaluate, japanToday, truthy } from './expr.js';
import { memoizeShardLoader } from './postal.js';
import { getPath, parsePath, topOf } from './paths.js';
import { allFields, retireStaffOnly, saveBlob } from './drafts.js';
import { loadIndex, loadJSON, drafts, isStaff } from './shell.js';

// A resident fills only their own part of a two-person procedure (the other person confirms theirs from their
// own account: page-confirm.js); staff at the counter fill every part.
const ownPart = (c) => (c && (c.parties || []).length && !isStaff() ? partOf(c, '') : c);

export const today = () => japanToday();

// Staff filing at the counter see, fill and owe staff_only fields; a resident never sees one (form.js).
export function evalForm(compiled, answers) {
  return evaluateForm(compiled, answers, { today: today(), filer: isStaff() ? 'staff' : 'resident' });
}

function safeEval(expr, answers) {
  try { return evaluate(expr, answers, { today: today() }); } catch { return null; }
}

export function sectionShown(section, answers) {
  if (section.staff_only && !isStaff()) return false;
  if (!section.show_if) return true;
  try { return truthy(evaluate(section.show_if, answers, { today: today() })); } catch { return false; }
}

export function visibleSections(compiled, answers) {
  return (compiled.sections || []).map((s, i) => ({ s, i })).filter(({ s }) => sectionShown(s, answers));
}

const loadShard = memoizeShardLoader(async (prefix) => {
  const index = await loadIndex();
  if (!index.postal) return null;
  const r = await fetch(`${index.postal}${prefix}.json`);
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
});

// The household picker (picker.js), loaded by openDraft for a procedure with a group of people or a person field only.
let picker = null;
const hasPeople = (compiled) => allFields(compiled).some((f) => f.prefill_map || f.type === 'person');

/** The renderer's context for one draft's fields (render.js): answers, lookups, saving on every change. */
export function makeCtx(scope, d, compiled, onAnyChange, { save = () => drafts.save(d) } = {}) {
  const ctx = {
    scope, answers: d.answers, raw: d.raw || (d.raw = {}), prefilled: new Set(d.prefilled || []), locked: new Set(d.locked || []),
    // Where prefilled values came from, values changed from a person's record, the people a group picks from.
    sources: new Map(Object.entries(d.prefill_sources || {})), corrected: new Set(), people: d.people || null, picker,
    // Address parts filled by a postal lookup (and not edited since) may be replaced by the next lookup;
    // kept with the draft so that this still holds after a reload.
    touched: new Set(), autofilled: new Set(d.autofilled || []), loadShard, staff: isStaff(),
    choicesFor: (field, path) => {
      const choices = field.choices || [];
      if (!field.choice_filter) return choices;
      let v;
      try {
        const parts = parsePath(path);
        const item = parts.length > 1 ? getPath(d.answers, parts.slice(0, -1).map((k) => (typeof k === 'number' ? `[${k}]` : k)).join('.').replace(/\.\[/g, '[')) : null;
        v = evaluate(field.choice_filter, d.answers, { item, today: today() });
      } catch { v = null; }
      return choices.filter((c) => c.filter == null || c.filter === v || (Array.isArray(v) && v.includes(c.filter)));
    },
    linkedPostal: (addressId) => allFields(compiled).some((f) => f.type === 'postal_code' && f.address_field === addressId),
    saveBlob: (file) => saveBlob(store, file),
    onChange: (path, info) => {
      const top = topOf(path);
      if (info.typed && !d.typed.includes(top)) d.typed.push(top);
      if (info.picked && !(d.prefilled || (d.prefilled = [])).includes(top)) d.prefilled.push(top);
      // A postal code field belongs to its address field: keep the address's postal_code in step.
      for (const f of allFields(compiled)) {
        if (f.type !== 'postal_code' || !f.address_field || (top !== f.id && top !== f.address_field)) continue;
        const code = d.answers[f.id];
        const addr = d.answers[f.address_field];
        if (typeof code === 'string' && code) d.answers[f.address_field] = { ...(addr && typeof addr === 'object' ? addr : {}), postal_code: code };
        else if (addr && typeof addr === 'object') delete addr.postal_code;
      }
      d.autofilled = [...ctx.autofilled];
      save();
      onAnyChange(path, info);
    },
  };
  return ctx;
}

/**
 * Open a draft: find its procedure file (a draft from another device has no path yet), and move it to a
 * newer published version (answers kept, removed fields kept aside, new required fields asked).
 */
export async function openDraft(draftId) {
  const d = await store.get('drafts', draftId);
  if (!d || d.kind !== 'draft' || d.submitted_as) return null;
  const index = await loadIndex();
  const entry = index.procedures[d.procedure_id];
  if (!d.procedure_path && entry && entry.versions[d.procedure_version]) d.procedure_path = entry.versions[d.procedure_version];
  let compiled = ownPart(await loadJSON(d.procedure_path));
  // The migration code is loaded only for a draft that is not on the latest version.
  const migrate = entry && entry.latest !== d.procedure_version ? await import('./migrate.js') : null;
  const to = migrate && migrate.newerVersion(index, d.procedure_id, d.procedure_version);
  if (to) {
    const next = ownPart(await loadJSON(entry.versions[to]).catch(() => null));
    if (next) {
      const isRequired = (f, answers) => f.required === true || (f.required_if ? truthy(safeEval(f.required_if, answers)) : false);
      const m = migrate.migrateAnswers({ from: compiled, to: next, answers: d.answers, retired: d.retired || {}, isRequired });
      d.migration = { from: d.procedure_version, to, ask: m.ask };
      Object.assign(d, { procedure_version: to, procedure_path: entry.versions[to], answers: m.answers, retired: m.retired });
      compiled = next;
      await drafts.save(d, { full: true }); // committed as an ordinary draft.patch of procedure_version
    }
  } else {
    // Answers of fields this version does not have are kept aside (the form would call them unknown).
    const known = new Set(allFields(compiled).map((f) => f.id));
    for (const k of Object.keys(d.answers || {})) if (!known.has(k)) { d.retired = { ...(d.retired || {}), [k]: d.answers[k] }; delete d.answers[k]; }
  }
  if (!isStaff() && retireStaffOnly(d, compiled)) await drafts.save(d, { full: true });
  if (!picker && d.people && Object.keys(d.people).length && hasPeople(compiled)) picker = await import('./picker.js');
  if (picker && picker.fillPeople(d, allFields(compiled))) await drafts.save(d, { full: true });
  drafts.snapshot(d);
  return { d, compiled };
}

export function migrationNotice(d, compiled) {
  if (!d.migration) return null;
  const ask = (d.migration.ask || []).map((id) => fieldLabelAt(compiled, id)).filter(Boolean);
  return el('div', { class: 'notice', id: 'migration-notice' }, el('p', { text: t('migrated', { from: d.migration.from, to: d.migration.to }) }),
    ask.length ? el('p', { text: t('migratedAsk', { fields: ask.join('、') }) }) : null);
}

export function errorSummary(errors, onLink) {
  const box = el('div', { class: 'error-summary', tabindex: '-1', id: 'error-summary' });
  const inner = el('div', { role: 'alert' });
  inner.append(el('h2', { text: t('errorsTitle', { n: errors.length }) }));
  const ul = el('ul', {});
  for (const e of errors) {
    const a = el('a', { href: `#${e.target}`, text: e.text });
    a.addEventListener('click', (ev) => { ev.preventDefault(); onLink(e); });
    ul.append(el('li', {}, a));
  }
  inner.append(ul);
  box.append(inner);
  box.addEventListener('blur', () => box.removeAttribute('tabindex'), { once: true });
  return box;
}

export function focusField(id) {
  const input = document.getElementById(id);
  if (!input) return;
  const holder = input.closest('fieldset, .field');
  const label = holder && (holder.querySelector('legend, label'));
  (label || input).scrollIntoView({ block: 'start' });
  input.focus({ preventScroll: true });
}

/** The field's label for messages, with the item of a repeat group: 「異動者 1 フリガナ」. */
export function fieldLabelAt(compiled, path) {
  const keys = parsePath(path);
  let fields = allFields(compiled);
  let group = null;
  const out = [];
  for (const k of keys) {
    if (typeof k === 'number') {
      if (group) out.push(`${tx(group.item_label) || tx(group.label)} ${k + 1}`);
      continue;
    }
    const f = (fields || []).find((x) => x.id === k);
    if (!f) return out.length ? out.join(' ') : path;
    if (f.type === 'group') { group = f; fields = f.fields; } else { out.push(tx(f.label)); fields = f.fields; }
  }
  if (!out.length && group) out.push(tx(group.label));
  return out.join(' ');
}

/** One error line, the same words in the summary and under the field: 「氏名：入力してください。」 */
export function errorLine(compiled, err) {
  return t('errorLine', { label: fieldLabelAt(compiled, err.path), msg: errorText(err) });
}

/** Enter in a field submits without a blur: run the field's blur normalisation (kana, digits) first. */
export function normalizeFocused() {
  const a = document.activeElement;
  if (a && a.matches && a.matches('input, textarea')) a.dispatchEvent(new Event('blur'));
}

export function dedupe(errors) {
  const seen = new Set();
  return errors.filter((e) => (seen.has(e.path) ? false : seen.add(e.path)));
}
