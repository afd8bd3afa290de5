// Short steps (issue 12, "screens that fit a thumb"): one section = one screen, and a screen with nothing
// to answer folds into the review instead of costing a tap. Also what a resident sees before starting: the
// build's time estimate as 「約40秒」 and the documents to have at hand. No DOM (tests/js/pwa-steps.test.mjs).

import { isShown, topOf } from './paths.js';

const empty = (v) => v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length);

/** A field the filer answers here: not a notice, a calculation, read-only or (a resident) for staff only. */
export function answerable(f, staff = false) {
  return f.type !== 'notice' && !f.calculate && !f.read_only && (staff || !f.staff_only);
}

/**
 * Whether `fields` (of one section, already without what a life event's shared fields fill) ask the
 * resident anything: some shown answerable field that is not prefilled with a valid value. A group the
 * resident picks members from (`pick`) always asks. `d` = {answers, prefilled}; `result` = evalForm's.
 */
export function asksAnything(fields, d, result, staff = false) {
  const holds = prefillHolds(d, result);
  // A person field whose fields are all answered elsewhere (not among `fields`) is not shown (render.js).
  const person = (f) => f.type !== 'person' || fields.some((x) => x.id in (f.fills || {}));
  // A partial prefill (`prefill_part`: the 氏 given, the 名 to type) always asks, like a pick.
  return fields.some((f) => answerable(f, staff) && isShown(result, f.id) && person(f) && (f.pick || f.prefill_part || !holds(f.id)));
}

/** Whether top-level field `id` holds the value a prefill gave it, still valid (the resident corrected it or not). */
function prefillHolds(d, result) {
  const prefilled = new Set(d.prefilled || []);
  const bad = new Set((result.errors || []).map((e) => topOf(e.path)));
  return (id) => prefilled.has(id) && !empty(d.answers[id]) && !bad.has(id);
}

/** A step folds its prefilled plain fields into one line when there are at least this many (one alone stays a field). */
export const FOLD_MIN = 2;

/**
 * The fields of a step shown as one line 「登録情報から入力（開いて確認・訂正）」 (render.js renderFields, ctx.fold):
 * the shown plain fields (no group or person, no person's target, calculation, read-only value or partial prefill) whose
 * prefilled value holds. A choice derived from the registry (`prefill_values`, or a value seeded from one: source
 * `derived`) is a guess to confirm: it stays in sight with its note; so does a value with a `hint` (the hint is
 * the warning, e.g. 死亡届's address 「届け出る方の住所を入れています…」). `open` when
 * the resident corrected one (`d.typed`). procedure_definitions/timing.py folded is the same rule (the time
 * model, statically), pinned by tests/conformance/fold.json. {ids: Set, open} or null.
 */
export function foldedFields(fields, d, result, staff = false) {
  const holds = prefillHolds(d, result);
  // A person field's targets (`fills`) are on that person's own line.
  const filled = new Set(fields.flatMap((f) => Object.keys(f.fills || {})));
  const derived = (f) => f.prefill_values || (d.prefill_sources || {})[f.id] === 'derived';
  const ids = fields.filter((f) => answerable(f, staff) && !['group', 'person'].includes(f.type) && !filled.has(f.id) && !f.prefill_part
    && !derived(f) && !f.hint && isShown(result, f.id) && holds(f.id)).map((f) => f.id);
  return ids.length < FOLD_MIN ? null : { ids: new Set(ids), open: ids.some((id) => (d.typed || []).includes(id)) };
}

/**
 * The steps of a form: the shown sections ({s, i}) that ask something; `hide(s)` gives the fields a
 * screen leaves out (a life event's shared fields). The other shown sections fold into the review.
 * Whose sections are shown is decided before: formview.js `ownPart` (a resident's own part of a two-person
 * procedure; staff at the counter fill every part) and `sectionShown` (staff-only sections for staff only).
 */
export function stepSections(shown, d, result, hide = (s) => s.fields || [], staff = false) {
  return shown.filter(({ s }) => asksAnything(hide(s), d, result, staff));
}

/** The step after (dir 1) or before (dir -1) section index `i` among `steps`, or null. */
export function stepBeside(steps, i, dir) {
  const list = dir > 0 ? steps : [...steps].reverse();
  return list.find((x) => (dir > 0 ? x.i > i : x.i < i)) || null;
}

/** 「約40秒」: {key, n} for t(); under a minute in tens of seconds, otherwise in whole minutes. */
export function aboutTime(seconds) {
  if (!(seconds > 0)) return null;
  if (seconds < 55) return { key: 'aboutSeconds', n: Math.max(10, Math.round(seconds / 10) * 10) };
  return { key: 'aboutMinutes', n: Math.max(1, Math.round(seconds / 60)) };
}

/** The documents every filer brings (no condition), and the ones needed only in some cases. */
export function documentsAtHand(compiled) {
  const docs = compiled.documents || [];
  return { always: docs.filter((d) => !d.required_if), sometimes: docs.filter((d) => d.required_if) };
}
