// What changed since this device last showed an application: at every start (app.js, loaded lazily) and on the
// home page, the app reads GET /api/submissions (docs/api.md "Following an application") and keeps each
// receipt's status in IndexedDB. A receipt is "changed" when the server's updated_at differs from the one the
// device last showed (seen_updated_at, set when its page is opened); a receipt this device has never shown
// but filed itself counts as changed when its status moved on. Works with or without Web Push.

import { api } from './api.js';
import { b64urlDecode } from './webauthn.js';

/** Pure: the stored receipt after the server's row, with `changed` (the resident has something new to see). */
export function mergeStatus(cached, row) {
  const next = { ...(cached || {}), ...row };
  if (!cached) return { ...next, seen_updated_at: row.updated_at, changed: false }; // a new phone: not news
  // The resident's own reply moved it back to review: that is not news to them.
  if (cached.own_change && cached.status === row.status && !cached.changed) return { ...next, seen_updated_at: row.updated_at, changed: false, own_change: false };
  if (cached.seen_updated_at) next.changed = cached.seen_updated_at !== row.updated_at;
  else {
    // Filed on this device and never shown since: news once its status moved on (and until it is shown).
    next.changed = Boolean(cached.changed) || Boolean(cached.status && cached.status !== row.status);
    if (!next.changed) next.seen_updated_at = row.updated_at;
  }
  return next;
}

const ZONE = { ja: '（日本時間）', en: ' (Japan time)', 'ja-easy': '（にほん の じかん）' };

/** The one formatter of every date and time the app shows: Japan time, whatever the phone's zone (an ISO
 * string or epoch ms). `time: false`: the date only; `zone: true`: says so after it (where no heading does). */
export function jst(iso, lang = 'ja', { time = true, zone = false } = {}) {
  const d = new Date(iso);
  if (iso == null || iso === '' || Number.isNaN(d.getTime())) return '';
  const text = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'ja-JP', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', ...(time ? { timeStyle: 'short' } : {}) }).format(d);
  return zone ? text + (ZONE[lang] || ZONE.ja) : text;
}

/** Read the account's receipts from the server into the store; the ones with news. Offline: throws. Called once
 * per start: by the home page when drawn, else by app.js. */
export async function refreshStatuses(store) {
  const rows = await api('/api/submissions');
  const changed = [];
  await store.tx(['submissions'], 'readwrite', async (t) => {
    for (const row of rows) {
      const next = mergeStatus(await t.get('submissions', row.id), row);
      await t.put('submissions', next);
      if (next.changed) changed.push(next);
    }
  });
  return changed;
}

/** The resident opened the application's page: what it shows now is seen. */
export async function markSeen(store, id, updatedAt) {
  await store.tx(['submissions'], 'readwrite', async (t) => {
    const cur = await t.get('submissions', id);
    if (cur && updatedAt) await t.put('submissions', { ...cur, seen_updated_at: updatedAt, changed: false });
  });
}

/** Whether this browser can show Web Push notifications at all. */
export function pushPossible() {
  return typeof navigator !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in globalThis && 'Notification' in globalThis;
}

/** This browser's push subscription (made with the server's VAPID key if there is none yet), asking for the
 * permission: call it on the resident's tap only. Null when the permission is refused. Following an application
 * (page-submission.js) and a queue ticket (page-ticket.js) share it: one subscription per browser. */
export async function pushSubscription() {
  if ((await Notification.requestPermission()) !== 'granted') return null;
  const { public_key: key } = await api('/api/push/key');
  const reg = await navigator.serviceWorker.ready;
  return (await reg.pushManager.getSubscription()) || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlDecode(key) });
}

/** Signing out: this browser stops receiving the account's notifications (on the server and at the push
 * service; offline, the push service's 410 later makes the server drop it). */
export async function stopNotifications(store) {
  const endpoint = await store.getMeta('push_endpoint');
  if (!endpoint) return;
  try { await api(`/api/push/subscriptions?endpoint=${encodeURIComponent(endpoint)}`, { method: 'DELETE' }); } catch { /* offline */ }
  try {
    const reg = globalThis.navigator && navigator.serviceWorker ? await navigator.serviceWorker.getRegistration() : null;
    const sub = reg && reg.pushManager ? await reg.pushManager.getSubscription() : null;
    if (sub) await sub.unsubscribe();
  } catch { /* nothing to unsubscribe */ }
  await store.setMeta('push_endpoint', null);
}
