// The outbox: submissions waiting to be sent, each under the idempotency key created with its draft.
// Sending is safe to repeat: the server answers a retry of the same id and body with the same receipt,
// so neither a retry after a lost response nor a page and the service worker flushing at once can
// create a duplicate. Completion-time telemetry rides inside the submission request (the server stores
// it only when it creates the submission and leaves it out of the idempotency hash), so it too arrives
// exactly once per submission. No imports: the build inlines this file into the service worker too.

const BACKOFF_BASE_MS = 2000;
const BACKOFF_MAX_MS = 15 * 60 * 1000;

/** Delay before retry number `attempts` (1, 2, ...): exponential, capped. */
export function backoffMs(attempts) {
  const n = Math.max(1, attempts | 0);
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (n - 1));
}

/** A state for the sync status element from the outbox items. */
export function summarizeOutbox(items) {
  const open = items.filter((i) => i.state !== 'sent');
  const failed = open.filter((i) => i.state === 'failed');
  if (failed.length) return { kind: 'failed', count: open.length, reason: failed[0].error || '' };
  if (open.length) return { kind: 'waiting', count: open.length, reason: '' };
  return { kind: 'ok', count: 0, reason: '' };
}

/** Classify an HTTP answer to a submission POST: what to do with the item. */
export function classifyResponse(status) {
  if (status === 200 || status === 201) return 'sent';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'reject'; // 4xx: the server will not take this body as it is
}

/** A new outbox item (the body is frozen as a string so every retry sends identical answers). */
export function makeOutboxItem({ id, procedure_id, procedure_version, answers, on_behalf_of, title, procedure_path, telemetry, attachments, now }) {
  const body = { id, procedure_id, procedure_version, answers };
  if (on_behalf_of) body.on_behalf_of = on_behalf_of;
  return {
    id, procedure_id, procedure_version, procedure_path: procedure_path || null, title: title || null,
    on_behalf_of: on_behalf_of || null,
    body: JSON.stringify(body), attachments: attachments || [], telemetry: telemetry || null,
    created_at: now, state: 'pending', attempts: 0, next_at: 0, error: '', receipt: null,
  };
}

/**
 * The bytes of one attempt: the frozen body with the telemetry spliced in. `acknowledged_at` is the time
 * of this attempt, on the same clock as `opened_at`; it is outside the server's idempotency hash.
 */
export function requestBody(item, nowMs) {
  if (!item.telemetry) return item.body;
  const tel = JSON.stringify({ ...item.telemetry, acknowledged_at: new Date(nowMs).toISOString() });
  return `${item.body.slice(0, -1)},"telemetry":${tel}}`;
}

/** The sha256 of every attachment referenced anywhere in the answers. */
export function attachmentRefs(answers) {
  const out = new Set();
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      if (typeof v.sha256 === 'string' && typeof v.size === 'number') out.add(v.sha256);
      else Object.values(v).forEach(walk);
    }
  };
  walk(answers);
  return [...out];
}

function problemText(status, data) {
  if (data && typeof data === 'object') {
    const errs = Array.isArray(data.errors) ? data.errors.map((e) => e.message && (e.message.ja || e.message) || e.path).filter(Boolean) : [];
    return [data.detail || data.title, ...errs].filter(Boolean).join(' / ').slice(0, 200) || `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

/**
 * Send every due item. deps: {store, fetch, csrf: async () => token, now: () => ms, force}.
 * Returns the summary after the run. Items are processed one at a time, oldest first.
 */
export async function flushOutbox(deps) {
  const { store, fetch: doFetch, csrf, now = () => Date.now(), force = false, onChange = () => {} } = deps;
  const run = async () => {
    const items = (await store.all('outbox')).sort((a, b) => a.created_at - b.created_at);
    for (const item of items) {
      if (item.state === 'sent') continue;
      if (!force && item.state === 'pending' && item.next_at > now()) continue;
      if (!force && item.state === 'failed') continue;
      await sendOne(item, { store, doFetch, csrf, now });
      onChange();
    }
    return summarizeOutbox(await store.all('outbox'));
  };
  const locks = globalThis.navigator && globalThis.navigator.locks;
  if (locks && locks.request) {
    // One flusher at a time across tabs and the service worker; others skip (the holder sends all).
    const r = await locks.request('madoguchi-outbox', { ifAvailable: true }, (lock) => (lock ? run() : null));
    return r || summarizeOutbox(await store.all('outbox'));
  }
  return run();
}

async function sendOne(item, { store, doFetch, csrf, now }) {
  const token = await csrf();
  const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': token || '' };
  const fail = async (state, error) => {
    item.attempts += 1;
    item.state = state;
    item.error = error;
    item.next_at = state === 'pending' ? now() + backoffMs(item.attempts) : 0;
    await store.put('outbox', item);
  };
  try {
    for (const sha of item.attachments || []) {
      const blob = await store.get('blobs', sha);
      if (!blob || blob.uploaded) continue;
      const r = await doFetch('/api/attachments', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': blob.type || 'application/octet-stream', 'X-CSRF-Token': token || '' }, body: blob.blob,
      });
      const kind = classifyResponse(r.status);
      if (kind !== 'sent') {
        const data = await r.json().catch(() => null);
        await fail(kind === 'retry' ? 'pending' : 'failed', kind === 'auth' ? 'auth' : problemText(r.status, data));
        return;
      }
      blob.uploaded = true;
      await store.put('blobs', blob);
    }
    const r = await doFetch('/api/submissions', { method: 'POST', credentials: 'same-origin', headers, body: requestBody(item, now()) });
    const data = await r.json().catch(() => null);
    const kind = classifyResponse(r.status);
    if (kind === 'sent') {
      item.state = 'sent';
      item.error = '';
      item.receipt = data;
      item.sent_at = now();
      await store.put('outbox', item);
      if (data && data.id) await store.put('submissions', { ...data, title: item.title, on_behalf_of: item.on_behalf_of });
      return;
    }
    await fail(kind === 'retry' ? 'pending' : 'failed', kind === 'auth' ? 'auth' : problemText(r.status, data));
  } catch (e) {
    // Network failure (offline, server down): keep waiting, retry with backoff.
    await fail('pending', 'offline');
  }
}
