// The review pages' part (a draft's review, a life event's combined review): answers as people read them,
// fee and documents, and sending a finished draft. The form pages themselves do not load this.

import { t, tx, htmlLang } from './i18n.js';
import { store } from './db.js';
import { commitDraft, queueSubmission } from './sync.js';
import { documentsFor } from './lifeevent.js';
import { el } from './dom.js';
import { evaluate } from './expr.js';
import { toWareki } from './japan.js';
import { isShown } from './paths.js';
import { submissionOf } from './drafts.js';
import { drafts, updateSync, registerSync, flush, uuid } from './shell.js';
import { evalForm, visibleSections, today } from './formview.js';

export function formatValue(field, v, answers = {}) {
  if (v == null || v === '' || (Array.isArray(v) && !v.length)) return t('notEntered');
  const choice = (x) => { const c = (field.choices || []).find((cc) => cc.value === x); return c ? tx(c.label) : String(x); };
  switch (field.type) {
    case 'yesno': return v ? t('yes') : t('no');
    case 'choice': return choice(v);
    case 'multichoice': return v.map(choice).join('、');
    case 'name': case 'kana': return typeof v === 'string' ? v : [v.family, v.given].filter(Boolean).join(' ');
    case 'address': return [v.postal_code ? `〒${v.postal_code.slice(0, 3)}-${v.postal_code.slice(3)}` : '', `${v.prefecture || ''}${v.city || ''}${v.town || ''}${v.block || ''}`, v.building || ''].filter(Boolean).join('\n');
    case 'postal_code': return /^\d{7}$/.test(v) ? `〒${v.slice(0, 3)}-${v.slice(3)}` : String(v);
    case 'date': case 'wareki': return formatDate(v, field.type === 'wareki');
    case 'attachment': return v.map((f) => f.name).join('、');
    case 'number': return `${v}${field.unit ? ` ${tx(field.unit)}` : ''}`;
    case 'person': return personName(field, answers);
    case 'group': return v.map((item, i) => `${i + 1}. ${(field.fields || []).filter((f) => item[f.id] != null).map((f) => `${tx(f.label)}: ${formatValue(f, item[f.id])}`).join(' / ')}`).join('\n');
    default: return String(v);
  }
}

// A person field's answer is a resident code: shown as the picked person's name (the field it fills with `name`).
function personName(f, answers) {
  const n = Object.keys(f.fills || {}).find((k) => f.fills[k] === 'name');
  // The name not filled (or blank): not entered, as any empty value reads.
  return (n && answers[n] && formatValue({ type: 'name' }, answers[n])) || t('notEntered');
}

/** 2019-05-01 -> 2019年5月1日（令和元年5月1日） in Japanese; ISO stays for English (unambiguous). */
function formatDate(v, wareki) {
  const m = /^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$/.exec(String(v));
  if (!m || htmlLang() === 'en') return String(v);
  const text = `${m[1]}年${m[2] ? `${Number(m[2])}月` : ''}${m[3] ? `${Number(m[3])}日` : ''}`;
  if (!wareki || !m[3]) return text;
  try { return `${text}（${toWareki(v)}）`; } catch { return text; }
}

export function valueOf(result, id) {
  const v = result.values;
  if (!v) return undefined;
  return v instanceof Map ? v.get(id) : v[id];
}

export function reviewList(compiled, answers, result, changeHref, hide = new Set()) {
  const out = [];
  for (const { s, i } of visibleSections(compiled, answers)) {
    const rows = [];
    for (const f of s.fields || []) {
      if (f.type === 'notice' || hide.has(f.id) || !isShown(result, f.id)) continue;
      if (f.type === 'person' && Object.keys(f.fills || {}).every((k) => hide.has(k))) continue; // answered elsewhere
      const v = f.calculate ? valueOf(result, f.id) : answers[f.id];
      const change = f.calculate || !changeHref ? null : el('a', { href: changeHref(i), class: 'btn-link' }, t('change'), el('span', { class: 'visually-hidden', text: `：${tx(f.label)}` }));
      rows.push(el('div', {}, el('dt', { text: tx(f.label) }), el('dd', { text: formatValue(f, v, answers) }), change ? el('dd', {}, change) : null));
    }
    if (rows.length) out.push(el('h3', { text: tx(s.title) }), el('dl', { class: 'review' }, rows));
  }
  return out;
}

/** The notices of sections that were no step (steps.js folds them into the review), under `level` お知らせ. */
export function foldedNotes(folded, result, level = 'h2') {
  const notes = folded.flatMap(({ s }) => (s.fields || []).filter((f) => f.type === 'notice' && isShown(result, f.id)));
  if (!notes.length) return [];
  return [el(level, { text: t('notes') }), ...notes.map((f) => el('div', { class: 'notice' + (f.level === 'warning' ? ' warning' : '') },
    el('strong', { text: tx(f.label) }), f.text ? el('p', { text: tx(f.text) }) : null))];
}

export function feeAndDocs(compiled, answers, result) {
  const out = [];
  if (compiled.fee) {
    const q = compiled.fee.quantity_field ? Number(answers[compiled.fee.quantity_field] ?? valueOf(result, compiled.fee.quantity_field) ?? 1) : 1;
    out.push(el('p', { class: 'fee', text: t('feeTotal', { n: compiled.fee.amount * (Number.isFinite(q) ? q : 1) }) }));
  }
  const docs = documentsFor(compiled, result.values, evaluate, today()); // values as validated, as the server
  if (docs.length) out.push(el('h2', { text: t('documents') }), el('ul', {}, docs.map((x) => el('li', { text: tx(x.label) }))));
  return out;
}

/**
 * Send a finished draft: its pending edits are committed, then one `submission.create` under the id made
 * with the draft (exactly once, whichever device sends it) and its files on their own queue. The draft is
 * hidden until the receipt, then deleted on every device; a rejection brings it back with the reason.
 */
export async function queueDraft(d, compiled, { sharedTyped = [], sharedPrefilled = [], flushNow = true } = {}) {
  await drafts.flush();
  await commitDraft(store, d.id);
  const result = evalForm(compiled, d.answers);
  const { submission, files } = submissionOf(d, compiled, result, { isShown, sharedTyped, sharedPrefilled });
  const sid = d.submission_id || uuid();
  await queueSubmission(store, { submission_id: sid, submission, label: { kind: 'submission', title: d.title, procedure_id: d.procedure_id }, draft_id: d.id, blobs: files });
  if (flushNow) {
    await updateSync();
    registerSync();
    flush();
  }
  return sid;
}
