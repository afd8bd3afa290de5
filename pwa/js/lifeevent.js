// Life-event navigator logic (pure): which questions to ask, which procedures apply, what to bring, and
// how the fields shared by the procedures are entered once and copied into each procedure's answers.
// `evaluate` is expr.js's evaluate(ast, answers, {today}); it is passed in to keep this module pure.

import { prefillValue } from './drafts.js';
import { offeredTo, personCorrected, pickPerson } from './people.js';
import { same } from './syncstate.js';

export function truthy(v) {
  return !(v === null || v === undefined || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0));
}

function test(evaluate, ast, answers, today) {
  if (ast == null) return true;
  try { return truthy(evaluate(ast, answers, { today })); } catch { return false; }
}

export function visibleQuestions(event, answers, evaluate, today) {
  return (event.questions || []).filter((q) => test(evaluate, q.show_if, answers, today));
}

/** Question answers as booleans; unanswered questions count as "no" (null). */
export function applicableProcedures(event, answers, evaluate, today) {
  return (event.procedures || []).filter((p) => test(evaluate, p.include_if, answers, today));
}

/**
 * procedure id -> Set of that procedure's field ids filled from a shared field, or from a question's answer
 * (`maps_to`) when `questionAnswers` (the bundle's, see answeredQuestions) holds one: those are not asked.
 */
export function mappedFields(event, questionAnswers = {}) {
  const out = new Map();
  const add = (maps) => {
    for (const [proc, fid] of Object.entries(maps || {})) {
      if (!out.has(proc)) out.set(proc, new Set());
      out.get(proc).add(fid);
    }
  };
  for (const sf of event.shared_fields || []) add(sf.maps_to);
  for (const q of event.questions || []) if (typeof questionAnswers[q.id] === 'boolean') add(q.maps_to);
  return out;
}

/**
 * The answers the resident gave to the questions shown now (true / false), kept with a bundle when it starts:
 * a question's `maps_to` fills procedure fields from them (copyQuestions). An unanswered or hidden question
 * gives nothing, so the procedure asks its own field.
 */
export function answeredQuestions(event, answers, evaluate, today) {
  const out = {};
  for (const q of visibleQuestions(event, answers, evaluate, today)) if (typeof answers[q.id] === 'boolean') out[q.id] = answers[q.id];
  return out;
}

/**
 * Copy the questions' answers into the procedure fields their `maps_to` names (mutates answersByProc[proc]),
 * e.g. 「公務員ですか」 into 児童手当's is_public_servant: answered once. Returns the procedure ids changed.
 */
export function copyQuestions(event, questionAnswers, answersByProc) {
  const changed = new Set();
  for (const q of event.questions || []) {
    const v = (questionAnswers || {})[q.id];
    if (typeof v !== 'boolean') continue;
    for (const [proc, target] of Object.entries(q.maps_to || {})) {
      const a = answersByProc[proc];
      if (!a || a[target] === v) continue;
      a[target] = v;
      changed.add(proc);
    }
  }
  return [...changed];
}

/** The field ids of procedure `proc` that the answered questions fill: tapped once, counted as typed. */
export function questionTargets(event, proc, questionAnswers) {
  return (event.questions || []).filter((q) => typeof (questionAnswers || {})[q.id] === 'boolean' && (q.maps_to || {})[proc])
    .map((q) => q.maps_to[proc]);
}

/**
 * Copy the shared answers into each procedure's answers (mutates answersByProc[proc]). A shared person field
 * (the deceased picked once) that feeds a procedure's own person field also gives that field's other `fills`
 * (死亡届's 性別, 夫または妻) from the picked person, as a tap there would (people.js pickPerson), marked prefilled
 * from the people's source: `drafts` = {proc: {compiled, d}} (the draft's people list, prefilled, prefill_sources).
 * Returns the procedures whose answers changed (to save only those), like copyQuestions.
 */
export function copyShared(event, shared, answersByProc, drafts = {}) {
  const mapped = mappedFields(event);
  const changed = new Set();
  for (const sf of event.shared_fields || []) {
    const fid = sf.field.id;
    for (const [proc, target] of Object.entries(sf.maps_to || {})) {
      const a = answersByProc[proc];
      if (!a) continue;
      const v = shared[fid];
      if (!same(a[target], v)) changed.add(proc);
      if (sf.field.type === 'person' && drafts[proc]) pickShared(drafts[proc], target, a, v, mapped.get(proc));
      if (v === undefined || v === null || v === '') delete a[target];
      else a[target] = structuredClone(v);
    }
  }
  return [...changed];
}

/**
 * A new bundle's procedure drafts, made once when it starts: the filer's profile read ONCE for all of them
 * (`readProfile`; for staff an audited registry read), passed to `makeDraft(p, profile)` and seedShared; the
 * shared values and the answered questions (fixed from now on) copied in; `save(d)` only for the drafts
 * that changed (each was stored as made). Returns { parts, shared, prefilled }.
 */
export async function startBundle(event, procs, questions, { readProfile, makeDraft, save }) {
  const profile = await readProfile();
  const parts = [];
  for (const p of procs) parts.push(await makeDraft(p, profile));
  // Values prefilled from a verified profile seed the shared fields (and stay marked as prefilled).
  const { shared, prefilled } = seedShared(event, parts, profile);
  // What a shared field's own prefill gave reaches the procedures it feeds now, as a later change would.
  const byProc = Object.fromEntries(parts.map((d) => [d.procedure_id, d.answers]));
  const byProcDraft = Object.fromEntries(parts.map((d, i) => [d.procedure_id, { compiled: procs[i].compiled, d }]));
  const changed = new Set([...copyShared(event, shared, byProc, byProcDraft), ...copyQuestions(event, questions, byProc)]);
  for (const d of parts) if (changed.has(d.procedure_id)) await save(d);
  return { parts, shared, prefilled };
}

/** A shared pick `v` reaching person field `target` of a procedure's draft (answers `a`): its own fills, once per new pick. */
function pickShared({ compiled, d }, target, a, v, skip) {
  const field = (compiled.sections || []).flatMap((s) => s.fields || []).find((f) => f.id === target);
  const people = field && field.type === 'person' && (d.people || {})[field.prefill];
  if (!people || (a[target] ?? null) === (v ?? null)) return;
  const person = offeredTo(field, people.list, people.self).find((p) => p.member_id === v) || null;
  pickPerson(field, a, people.list, people.self, person, skip);
  // Marked as picker.js marks a tap: prefilled where the value is the person's (a correction kept is not).
  const differ = personCorrected(field, { ...a, [target]: v }, people.list, people.self);
  const prefilled = new Set(d.prefilled || []);
  d.prefill_sources = d.prefill_sources || {};
  for (const [fid, attr] of Object.entries(field.fills || {})) {
    if (skip && skip.has(fid)) continue;
    prefilled.delete(fid);
    if (!person || !(attr in person) || a[fid] === undefined || differ.includes(fid)) continue;
    prefilled.add(fid);
    d.prefill_sources[fid] = people.source;
  }
  d.prefilled = [...prefilled];
}

/** The shared field id that feeds `fieldId` of procedure `proc`, if any. */
export function sharedSource(event, proc, fieldId) {
  for (const sf of event.shared_fields || []) if ((sf.maps_to || {})[proc] === fieldId) return sf.field.id;
  return null;
}

/**
 * The shared fields required now: those filling a field that an included procedure requires now (its form
 * result's `required`, top-level paths), so the shared step's ※必須 / ※任意 say what validation does (a
 * shared field is refused only through the procedures it fills). `results`: [{d: {procedure_id}, result}].
 */
export function sharedRequired(event, results) {
  const out = new Set();
  for (const r of results) {
    for (const path of r.result.required || []) {
      const src = /[.[]/.test(path) ? null : sharedSource(event, r.d.procedure_id, path);
      if (src) out.add(src);
    }
  }
  return [...out];
}

/** Documents to bring: unconditional ones, and conditional ones whose condition holds now. */
export function documentsFor(compiled, answers, evaluate, today) {
  return (compiled.documents || []).filter((d) => test(evaluate, d.required_if, answers, today));
}

/** Merge documents of several procedures, each listed once: keyed by the Japanese label (the text the
 * definitions agree on; their en / やさしい日本語 wordings may differ), the first one's wording shown. */
export function mergeDocuments(lists) {
  const seen = new Map();
  for (const { procedure, documents } of lists) {
    for (const d of documents) {
      const key = typeof d.label === 'string' ? d.label : (d.label && d.label.ja) ?? JSON.stringify(d.label);
      if (!seen.has(key)) seen.set(key, { ...d, procedures: [] });
      seen.get(key).procedures.push(procedure);
    }
  }
  return [...seen.values()];
}

/** The shared fields that feed at least one of the included procedures (the others are not asked). */
export function sharedFieldsFor(event, procIds) {
  const ids = new Set(procIds);
  return (event.shared_fields || []).filter((sf) => Object.keys(sf.maps_to || {}).some((p) => ids.has(p)));
}

/**
 * Initial shared answers from values already in the procedures' drafts (prefilled from a verified
 * profile): the first procedure that has a value for a mapped field gives it; else a shared field's own
 * `prefill` takes it from `profile` (the one the drafts were made from), as the time model assumes
 * (procedure_definitions/timing_events.py). Returns {shared, prefilled: [shared field ids whose value came from a prefill]}.
 */
export function seedShared(event, drafts, profile = null) {
  const shared = {};
  const prefilled = [];
  for (const sf of event.shared_fields || []) {
    for (const [proc, target] of Object.entries(sf.maps_to || {})) {
      const d = drafts.find((x) => x.procedure_id === proc);
      const v = d && d.answers[target];
      if (v === undefined || v === null || v === '') continue;
      shared[sf.field.id] = structuredClone(v);
      if ((d.prefilled || []).includes(target)) prefilled.push(sf.field.id);
      break;
    }
    const own = sf.field.id in shared || !(profile && profile.verified && profile.profile) ? null : prefillValue(sf.field, profile.profile);
    if (own != null && own !== '') {
      shared[sf.field.id] = structuredClone(own);
      prefilled.push(sf.field.id);
    }
  }
  return { shared, prefilled };
}

/**
 * Where each prefilled shared value came from (the shared step's notes and fold, render.js prefillNote): a shared
 * field's own `prefill_values` is `derived`; else the source of the first procedure field it feeds whose draft
 * prefilled it (as seedShared took the value). `drafts`: the bundle's procedure drafts.
 */
export function sharedSources(event, drafts) {
  const out = {};
  for (const sf of event.shared_fields || []) {
    if (sf.field.prefill_values) { out[sf.field.id] = 'derived'; continue; }
    for (const [proc, target] of Object.entries(sf.maps_to || {})) {
      const d = drafts.find((x) => x.procedure_id === proc);
      const from = d && (d.prefilled || []).includes(target) && (d.prefill_sources || {})[target];
      if (from) { out[sf.field.id] = from; break; }
    }
  }
  return out;
}

/** The field ids of procedure `proc` that receive one of the shared fields in `sharedIds`. */
export function mappedTargets(event, proc, sharedIds) {
  const ids = new Set(sharedIds);
  const out = [];
  for (const sf of event.shared_fields || []) {
    const target = (sf.maps_to || {})[proc];
    if (target && ids.has(sf.field.id)) out.push(target);
  }
  return out;
}
