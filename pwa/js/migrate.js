// Procedure versions on the device (docs/sync.md, "Procedure versions"): a draft pinned to an old version
// moves to the newest published version when it is opened. Answers whose field ids exist in the new
// version are kept; answers of removed fields are kept aside under their ids (never deleted, and restored
// if a later version brings the field back); the user is asked only for the new required fields.
// Pure functions (no DOM, no storage): tests/js/pwa-migrate.test.mjs.

import { compareVersions, isValidVersion } from './versions.js';

/** Top-level answer fields of a compiled procedure: {id: field} (notices hold no answer). */
export function answerFields(compiled) {
  const out = {};
  for (const s of (compiled && compiled.sections) || []) for (const f of s.fields || []) if (f.type !== 'notice') out[f.id] = f;
  return out;
}

const empty = (v) => v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length);

/** The newer version a draft should move to, or null (index = the build's data/index.<hash>.json). */
export function newerVersion(index, procedureId, version) {
  const entry = index && index.procedures && index.procedures[procedureId];
  if (!entry || !entry.latest || !entry.versions[entry.latest]) return null;
  // A draft whose version is not a semantic version (a damaged record) stays where it is.
  if (!isValidVersion(entry.latest) || !isValidVersion(version)) return null;
  return compareVersions(entry.latest, version) > 0 ? entry.latest : null;
}

/**
 * Move a draft's answers from the compiled procedure `from` to `to`.
 * `isRequired(field, answers)` decides conditional requirements (default: `required: true` only).
 * Returns {version, answers, retired, added, removed, ask}: `ask` lists the field ids the user must now
 * fill in (new in `to`, required, unanswered), in form order.
 */
export function migrateAnswers({ from, to, answers = {}, retired = {}, isRequired = (f) => f.required === true }) {
  const oldFields = answerFields(from);
  const newFields = answerFields(to);
  const nextAnswers = {};
  const nextRetired = { ...retired };
  for (const [k, v] of Object.entries(answers)) {
    if (k in newFields) nextAnswers[k] = v;
    else nextRetired[k] = v;
  }
  for (const [k, v] of Object.entries(retired)) {
    if (k in newFields && !(k in nextAnswers)) { nextAnswers[k] = v; delete nextRetired[k]; }
  }
  const added = Object.keys(newFields).filter((k) => !(k in oldFields));
  const removed = Object.keys(oldFields).filter((k) => !(k in newFields));
  const ask = Object.keys(newFields).filter((k) => {
    const f = newFields[k];
    if (!added.includes(k) && !(k in oldFields && !sameRequirement(oldFields[k], f))) return false;
    return empty(nextAnswers[k]) && !f.calculate && isRequired(f, nextAnswers);
  });
  return { version: to.version, answers: nextAnswers, retired: nextRetired, added, removed, ask };
}

/** A field that was optional and became required counts as new to ask. */
function sameRequirement(a, b) {
  return Boolean(a.required) === Boolean(b.required) && JSON.stringify(a.required_if || null) === JSON.stringify(b.required_if || null);
}

/** Index of the first section (of `compiled`) that holds one of `ids`, or -1. */
export function firstSectionWith(compiled, ids) {
  const want = new Set(ids);
  return ((compiled && compiled.sections) || []).findIndex((s) => (s.fields || []).some((f) => want.has(f.id)));
}
