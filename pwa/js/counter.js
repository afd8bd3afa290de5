// The counter code's pure parts (page-counter.js draws them; tests/js/pwa-counter.test.mjs): the pre-entry
// snapshot a draft or life event sends with the code (POST /api/me/counter-code, docs/api.md "Counter codes"),
// and how the code is shown and read aloud. No DOM here.

// The server's limit on one answer's text (server/counter_code.py MAX_PREENTRY_STRING): longer texts are left
// out of the snapshot rather than refusing the whole code (the clerk asks for them).
export const MAX_STRING = 2000;

function trimmed(value, depth = 0) {
  if (depth > 12) return undefined; // the server refuses deeper snapshots; no form nests this deep
  if (typeof value === 'string') return value.length > MAX_STRING ? undefined : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => trimmed(v, depth + 1)).filter((v) => v !== undefined);
  // An attachment travels as its reference ({sha256, name, size, type}), never its bytes.
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    if (v instanceof Blob || (typeof ArrayBuffer !== 'undefined' && v instanceof ArrayBuffer)) continue;
    const t = trimmed(v, depth + 1);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

/**
 * The pre-entry of a draft (`kind: 'procedure'`) or of a life event's bundle (`kind: 'life_event'`: its shared
 * answers, and each included procedure's draft from `parts`, the bundle's drafts by id). null for anything else.
 */
export function preentryOf(d, parts = {}) {
  if (!d) return null;
  if (d.kind === 'bundle') {
    if (!d.event_id || !d.event_version) return null;
    const procedures = {};
    for (const id of d.drafts || []) {
      const p = parts[id];
      if (p && p.procedure_id && p.procedure_version) procedures[p.procedure_id] = { version: p.procedure_version, answers: trimmed(p.answers || {}) };
    }
    return { kind: 'life_event', id: d.event_id, version: d.event_version, answers: trimmed(d.shared || {}), procedures, questions: trimmed(d.questions || {}) };
  }
  if (!d.procedure_id || !d.procedure_version) return null;
  return { kind: 'procedure', id: d.procedure_id, version: d.procedure_version, answers: trimmed(d.answers || {}) };
}

/** As shown: two groups of three ("7KQ 2MX"), easy to read aloud and to compare. */
export function codeGroups(code) { return `${code.slice(0, 3)} ${code.slice(3)}`; }

/** As a screen reader says it: one character at a time. */
export function spelled(code) { return [...code].join(' '); }

/** Whether a stored code is still usable at `now` (ms). */
export function live(saved, now = Date.now()) {
  return Boolean(saved && saved.code && Date.parse(saved.expires_at) > now);
}
