// The sync engine's small pure parts that the app shell needs before the engine itself (sync.js, loaded
// on the first sync after the first page is shown): value equality as the server compares, the global
// status summary read from the stores, and the conflicts waiting for a person's decision.
// No imports: the build inlines this file into the (classic) service worker before sync.js.

export const keyOf = (type, id) => `${type}/${id}`;

export async function metaGet(t, key, fallback) {
  const r = await t.get('meta', key);
  return r === undefined ? fallback : r.value;
}

/** JSON with sorted object keys (the server compares values this way). */
export function canonicalJSON(v) {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => v[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJSON(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v === undefined ? null : v);
}

/** The server's equality: missing, null and "" are all "no answer"; otherwise strict JSON equality. */
export function same(a, b) {
  const empty = (x) => x === undefined || x === null || x === '';
  if (empty(a) && empty(b)) return true;
  return canonicalJSON(a) === canonicalJSON(b);
}

/** Entries that are waiting for review: the conflicts a person has to decide (not `mine_applied`). */
export function reviewConflicts(entry) {
  return ((entry.receipt && entry.receipt.conflicts) || []).filter((c) => c.outcome !== 'mine_applied');
}

/**
 * The global status: {kind: ok|waiting|failed, count, reason}. `count` is what the user thinks of as
 * items: submissions and shared-record changes not yet on the server (drafts are saved on the device and
 * sync in the background, so they do not count), a submission also while its files are uploading.
 */
export function summarize({ entries = [], attention = [], blobs = [], meta = {} }) {
  const items = new Set();
  for (const e of entries) if ((e.state === 'waiting' || e.state === 'sending') && e.type !== 'draft') items.add(keyOf(e.type, e.rid));
  for (const b of blobs) if (b.queued && !b.uploaded && !b.failed) for (const o of b.owners || []) items.add(keyOf('submission', o));
  const failed = [...entries, ...attention].find((e) => e.state === 'failed');
  if (failed) return { kind: 'failed', count: items.size, reason: failed.message || failed.reason || '' };
  const badBlob = blobs.find((b) => b.failed && (b.owners || []).length);
  if (badBlob) return { kind: 'failed', count: items.size, reason: badBlob.error || 'file' };
  if (items.size && meta.needs_signin) return { kind: 'failed', count: items.size, reason: 'auth' };
  if (items.size && meta.other_account) return { kind: 'failed', count: items.size, reason: 'account' };
  if (items.size) return { kind: 'waiting', count: items.size, reason: '' };
  return { kind: 'ok', count: 0, reason: '' };
}

/** The global status from the stores. */
export async function syncSummary(store) {
  return store.tx(['outbox', 'attention', 'blobs', 'meta'], 'readonly', async (t) => summarize({
    entries: await t.all('outbox'), attention: await t.all('attention'), blobs: await t.all('blobs'),
    meta: { needs_signin: await metaGet(t, 'needs_signin', false), other_account: await metaGet(t, 'other_account', false) },
  }));
}

/** An outbox item queued by the app before it spoke the sync protocol (sync.js migrateLegacyOutbox). */
export const isLegacyEntry = (o) => o.seq === undefined && typeof o.body === 'string';
