// Drafts on this device: a new draft record, saving only what changed, committing edits to the outbox one
// `draft.patch` per pause, and the submission made from a finished draft. No DOM; the store, the commit
// function and the timers are injected (tests/js/pwa-drafts.test.mjs). The sync side of a draft (fields,
// merge with a pulled change) is in sync.js.

import { same } from './syncstate.js';
import { partOf } from './parties.js';
import { topOf } from './paths.js';

/** The fields a draft's form has, at the top level (sections flattened). */
export function allFields(compiled) {
  return (compiled.sections || []).flatMap((s) => s.fields || []);
}

/**
 * A resident's draft holds no answer of a staff_only field: one made before the field became the counter's
 * (a draft moved to a newer version, or synced from staff) is kept aside under `retired`, as a removed
 * field's is, since the resident can neither see nor clear it and filing would be refused. True if any moved.
 */
export function retireStaffOnly(d, compiled) {
  let moved = false;
  for (const f of allFields(compiled)) {
    if (!f.staff_only || !d.answers || !(f.id in d.answers)) continue;
    d.retired = { ...(d.retired || {}), [f.id]: d.answers[f.id] };
    delete d.answers[f.id];
    moved = true;
  }
  return moved;
}

/**
 * A new draft record for a procedure (`p` = {path, compiled}); its idempotency key (the submission id) is
 * created now, with the draft. A verified profile fills the fields that name it (`prefill`), locked if the
 * field says so; a draft made for a resident (staff acting for them) is prefilled only from that resident's
 * profile (`profile.for` = their id, GET /api/residents/{id}/profile), never from staff's own. A group of
 * people (`prefill_map`) or a person field keeps the list on the device (`people`) for the picker; without `pick` every person
 * becomes an item when the form first opens (`fill_people`, people.js fillPeople). `prefill_sources`: field id -> where its value came from (registry | transfer | derived).
 */
export function newDraftRecord(p, { profile = null, acting = null, uuid, now = Date.now(), extra = {}, party = '' }) {
  const c = p.compiled;
  const answers = {};
  const prefilled = [];
  const locked = [];
  const people = {};
  const sources = {};
  const fill = [];
  if (profile && profile.verified && profile.profile && (!acting || profile.for === acting.id)) {
    const from = (attr) => (profile.sources && profile.sources[attr]) || 'registry';
    // A two-person procedure: only `party`'s part ('' = the first filer's): each person's from their own record.
    for (const f of allFields((c.parties || []).length ? partOf(c, party) : c)) {
      const v = prefillValue(f, profile.profile);
      if (v == null || v === '') continue;
      if (f.prefill_map || f.type === 'person') {
        if (!Array.isArray(v) || !v.length) continue;
        // `self`: the filer's own resident code, left out where `pick_self: false` (people.js offeredTo).
        const self = profile.profile.resident_code;
        people[f.prefill] = { source: from(f.prefill), list: structuredClone(v), ...(self ? { self } : {}) };
        if (f.pick || f.type === 'person') continue; // picked in the form (picker.js), no answer yet
        fill.push(f.id); // every person an item: made when the form opens (people.js, loaded with the picker)
      } else {
        answers[f.id] = structuredClone(v);
        if (f.prefill_editable === false) locked.push(f.id);
      }
      prefilled.push(f.id);
      // A choice derived from a registry fact (`prefill_values`) is a guess to confirm, not the record itself.
      sources[f.id] = f.prefill_values ? 'derived' : from(f.prefill);
    }
  }
  return {
    id: uuid(), kind: 'draft', submission_id: uuid(), procedure_id: c.id, procedure_version: c.version, procedure_path: p.path,
    title: c.title, answers, retired: {}, raw: {}, prefilled, locked, people, prefill_sources: sources, fill_people: fill, typed: [], opened_at: new Date(now).toISOString(), updated_at: now,
    on_behalf_of: acting ? acting.id : null, on_behalf_name: acting ? acting.name : null, seen: {}, ...extra,
  };
}

/**
 * What a profile fills into top-level field `f` (null: nothing): its `prefill` attribute, or only its
 * `prefill_part` of it ({family: 氏}: the given name is the resident's to type; nothing when the profile has no
 * such part), or the choice its `prefill_values` maps the value to. The twin of server/prefill_check.py prefill_value (tests/conformance/prefill_value.json).
 */
export function prefillValue(f, profile) {
  const v = f.prefill ? profile[f.prefill] : null;
  // A choice derived from a scalar value (yes/no as 'true'/'false'); a value not listed fills nothing.
  if (f.prefill_values && v != null) return Object.hasOwn(f.prefill_values, String(v)) ? f.prefill_values[String(v)] : null;
  if (!f.prefill_part || v == null) return v ?? null;
  const part = v && typeof v === 'object' ? v[f.prefill_part] : null;
  return typeof part === 'string' && part ? { [f.prefill_part]: part } : null;
}

/** The answers key of a record: a life event's bundle keeps its shared answers apart. */
// A draft nobody has typed in (made on opening a procedure, holding only prefilled answers): no application yet.
export const untouched = (d) => !(d.typed || []).length && Object.keys(d.answers || {}).every((k) => (d.prefilled || []).includes(k));

export const answersKey = (d) => (d.kind === 'bundle' ? 'shared' : 'answers');

// Device-only parts of a draft: always written as the page has them.
export const LOCAL_FIELDS = ['raw', 'prefilled', 'locked', 'typed', 'autofilled', 'updated_at', 'procedure_path', 'migration', 'people', 'prefill_sources', 'fill_people'];

/** Top-level answers that differ between two snapshots. */
export function changedKeys(cur, prev) {
  return [...new Set([...Object.keys(cur), ...Object.keys(prev)])].filter((k) => !same(cur[k], prev[k]));
}

/**
 * The stored record after a save: only the answers the page changed (`changed`; null = everything) are
 * written over what is stored, so a change pulled from another device meanwhile is not overwritten.
 */
export function mergeSaved(stored, copy, changed) {
  if (!stored || changed === null) {
    return { ...copy, seen: stored ? stored.seen : copy.seen || {}, submitted_as: stored ? stored.submitted_as : null };
  }
  const key = answersKey(copy);
  const out = { ...stored, [key]: { ...(stored[key] || {}) } };
  for (const k of changed) {
    if (copy[key][k] === undefined) delete out[key][k];
    else out[key][k] = copy[key][k];
  }
  for (const f of LOCAL_FIELDS) if (copy[f] !== undefined) out[f] = copy[f];
  return out;
}

/**
 * The sha256 of every attachment referenced anywhere in the answers: an object with a string `sha256` and a
 * number `size`, inside other attachment objects too. The server's rule (server/filing.py attachment_names);
 * tests/conformance/attachments.json pins both.
 */
export function attachmentRefs(answers) {
  const out = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (typeof v.sha256 === 'string' && typeof v.size === 'number') out.add(v.sha256);
      Object.values(v).forEach(walk);
    }
  };
  walk(answers);
  return [...out];
}

/**
 * The `submission.create` body of a finished draft. Only what is shown is sent (hidden fields' values are
 * not part of the application); fields typed once in a life event's shared part count as typed for every
 * procedure they feed. `isShown(result, id)` comes from paths.js; `now` is when 送信 was pressed, so
 * retries stay byte-identical.
 */
export function submissionOf(d, compiled, result, { isShown, sharedTyped = [], sharedPrefilled = [], now = Date.now() }) {
  const known = new Set(allFields(compiled).map((f) => f.id));
  const answers = {};
  for (const [k, v] of Object.entries(d.answers)) if (known.has(k) && isShown(result, k)) answers[k] = v;
  // Counted per top-level field sent: a path inside a group (a picked member's value) counts for its group;
  // a field the resident changed counts as typed even if it came prefilled (docs/time-model.md, telemetry).
  const tops = (list) => new Set(list.map(topOf).filter((k) => answers[k] !== undefined));
  const typed = tops([...(d.typed || []), ...sharedTyped]);
  const prefilled = [...tops([...(d.prefilled || []), ...sharedPrefilled])].filter((k) => !typed.has(k));
  const files = attachmentRefs(answers);
  const submission = {
    procedure_id: d.procedure_id, procedure_version: d.procedure_version, answers, attachments: files,
    // Completion-time telemetry rides in the submission (stored once, when it is created). acknowledged_at is
    // when 送信 was pressed: an offline filing's receipt comes later, but the resident's part ended here.
    telemetry: {
      procedure_id: d.procedure_id, procedure_version: d.procedure_version, opened_at: d.opened_at, acknowledged_at: new Date(now).toISOString(),
      fields_typed: typed.size, fields_prefilled: prefilled.length,
    },
  };
  if (d.on_behalf_of) submission.on_behalf_of = d.on_behalf_of;
  return { submission, files };
}

export const COMMIT_DELAY_MS = 1200;

/**
 * Saving drafts: edits are saved at once (IndexedDB, one save at a time in order) and committed to the
 * outbox as one draft.patch per pause, on leaving the page and before sending: fewer mutations, and each
 * carries what the user saw as its base. `commit(store, id)` is sync.js's commitDraft; `onCommitted()`
 * runs after a timed commit that queued something (the app then syncs).
 */
export function createDraftSaver({ store, commit, onCommitted = () => {}, timers = globalThis, delayMs = COMMIT_DELAY_MS, now = () => Date.now(), log = console.error }) {
  const snapshots = new WeakMap();
  const pending = new Map(); // draft id -> commit timer
  let chain = Promise.resolve();

  /** Remember what the page shows now: the next save writes only answers changed since. */
  function snapshot(d) { snapshots.set(d, structuredClone(d[answersKey(d)] || {})); }

  function save(d, { full = false } = {}) {
    d.updated_at = now();
    const key = answersKey(d);
    const cur = d[key] || {};
    const prev = full ? null : snapshots.get(d);
    const changed = prev ? changedKeys(cur, prev) : null;
    const copy = structuredClone(d);
    snapshots.set(d, structuredClone(cur));
    chain = chain.then(() => store.tx(['drafts'], 'readwrite', async (tr) => {
      await tr.put('drafts', mergeSaved(await tr.get('drafts', d.id), copy, changed));
    })).catch((e) => log(e));
    schedule(d.id);
    return chain;
  }

  function schedule(id) {
    timers.clearTimeout(pending.get(id));
    pending.set(id, timers.setTimeout(() => { pending.delete(id); commitNow(id); }, delayMs));
  }

  async function commitNow(id) {
    await chain;
    try {
      if (await commit(store, id)) await onCommitted(id);
    } catch (e) { log(e); }
  }

  /** Commit every pending edit now; resolves to how many drafts had one. */
  async function flush() {
    const ids = [...pending.keys()];
    for (const id of ids) { timers.clearTimeout(pending.get(id)); pending.delete(id); }
    await chain;
    for (const id of ids) await commit(store, id).catch((e) => log(e));
    return ids.length;
  }

  return {
    snapshot, save, schedule, flush,
    /** Resolves when every save so far is stored. */
    saved: () => chain,
    hasPending: (id) => pending.has(id),
  };
}

/** Keep a chosen file on the device, named by its sha256, until it is uploaded (the blob queue, sync.js). */
export async function saveBlob(store, file) {
  const buf = await file.arrayBuffer();
  const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((b) => b.toString(16).padStart(2, '0')).join('');
  await store.put('blobs', { sha256: hash, blob: new Blob([buf], { type: file.type }), type: file.type, name: file.name, uploaded: false });
  return { sha256: hash, name: file.name, size: file.size, type: file.type };
}
