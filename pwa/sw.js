// Madoguchi service worker (classic script). `madoguchi build` prepends BUILD, PRECACHE and POSTAL_PREFIX
// and turns the @include lines into one importScripts of the IndexedDB and sync modules (the same code the
// page runs, as one content-hashed classic script: an app update that does not change it fetches only sw.js).
/* global BUILD, PRECACHE, POSTAL_PREFIX, store, syncNow */
// @include js/db.js
// @include js/syncstate.js
// @include js/sync.js

const SHELL_CACHE = 'madoguchi-shell-' + BUILD;
// Library JSON that a draft or a queued submission still references survives builds here.
const DATA_CACHE = 'madoguchi-data';
const POSTAL_CACHE = 'madoguchi-postal';
// /preview/: a draft's preview page and its data are never cached nor answered with the app shell.
const NETWORK_ONLY = /^\/(api|auth|console|enroll|schema|healthz|docs|preview)(\/|$)/;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(PRECACHE.map((u) => new Request(u, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

async function referencedPaths() {
  const paths = new Set();
  try {
    for (const d of await store.all('drafts')) if (d.procedure_path) paths.add(d.procedure_path);
  } catch (e) { /* no database yet */ }
  return paths;
}

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const keep = await referencedPaths();
    const data = await caches.open(DATA_CACHE);
    const current = new Set(PRECACHE);
    // Before dropping old builds, move library files that drafts still use but this build lacks.
    for (const name of await caches.keys()) {
      if (!name.startsWith('madoguchi-shell-') || name === SHELL_CACHE) continue;
      const old = await caches.open(name);
      for (const path of keep) {
        if (current.has(path)) continue;
        const r = await old.match(path);
        if (r && !(await data.match(path))) await data.put(path, r);
      }
      await caches.delete(name);
    }
    for (const req of await data.keys()) {
      const path = new URL(req.url).pathname;
      if (!keep.has(path) || current.has(path)) await data.delete(req);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || NETWORK_ONLY.test(url.pathname)) return; // network only
  if (req.mode === 'navigate') {
    // The app shell answers every in-app navigation, online or not: instant start, works offline.
    event.respondWith((async () => (await caches.match('/', { cacheName: SHELL_CACHE })) || fetch(req))());
    return;
  }
  if (POSTAL_PREFIX && url.pathname.startsWith(POSTAL_PREFIX)) {
    event.respondWith((async () => {
      const cache = await caches.open(POSTAL_CACHE);
      const hit = await cache.match(req);
      if (hit) return hit;
      const r = await fetch(req);
      if (r.ok) await cache.put(req, r.clone());
      return r;
    })());
    return;
  }
  event.respondWith((async () => (await caches.match(req, { ignoreSearch: true })) || fetch(req))());
});

async function csrfToken() {
  try {
    if (self.cookieStore) {
      const c = await self.cookieStore.get('madoguchi_csrf');
      if (c && c.value) return c.value;
    }
  } catch (e) { /* cookieStore unavailable */ }
  const saved = await store.getMeta('csrf');
  if (saved) return saved;
  const r = await fetch('/api/session', { credentials: 'same-origin' });
  const s = await r.json();
  await store.setMeta('csrf', s.csrf_token);
  return s.csrf_token;
}

async function notifyClients() {
  for (const c of await self.clients.matchAll({ type: 'window' })) c.postMessage({ type: 'outbox-changed' });
}

/** The signed-in account (the outbox is only sent as the account that made it); offline: the owner. */
async function sessionAccount() {
  try {
    const r = await fetch('/api/session', { credentials: 'same-origin' });
    const s = await r.json();
    if (s.csrf_token) await store.setMeta('csrf', s.csrf_token);
    return s.signed_in && s.account ? s.account.id : null;
  } catch (e) {
    return (await store.getMeta('owner')) || null; // offline: the push will fail and back off
  }
}

async function flushFromWorker(force) {
  const summary = await syncNow({
    store, force, fetch: (u, o) => fetch(u, o), csrf: csrfToken, account: sessionAccount, onChange: notifyClients,
    onPulled: async (types) => {
      for (const c of await self.clients.matchAll({ type: 'window' })) c.postMessage({ type: 'pulled', types: [...types] });
    },
  });
  await notifyClients();
  // Rejecting asks the browser to fire the sync event again later.
  if (summary.kind === 'waiting') throw new Error('outbox still waiting');
}

self.addEventListener('sync', (event) => {
  if (event.tag === 'outbox') event.waitUntil(flushFromWorker(false));
});

// Postal shards are not precached (about 1.7 MB gzipped); once the app is installed it asks for them
// to be fetched quietly, a few at a time, so that address autofill also works offline later.
let warming = null;
async function warmPostal() {
  const cache = await caches.open(POSTAL_CACHE);
  const list = await fetch(`${POSTAL_PREFIX}prefixes.json`);
  if (!list.ok) return;
  const prefixes = await list.json();
  const todo = [];
  for (const p of prefixes) if (!(await cache.match(`${POSTAL_PREFIX}${p}.json`))) todo.push(p);
  const worker = async () => {
    while (todo.length) {
      const url = `${POSTAL_PREFIX}${todo.shift()}.json`;
      const r = await fetch(url);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      await cache.put(url, r);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  // Drop shards of older postal data.
  for (const req of await cache.keys()) if (!new URL(req.url).pathname.startsWith(POSTAL_PREFIX)) await cache.delete(req);
}

self.addEventListener('message', (event) => {
  const d = event.data || {};
  if (d.type === 'flush') event.waitUntil(flushFromWorker(true).catch(() => {}));
  if (d.type === 'warm-postal' && POSTAL_PREFIX && !warming) {
    warming = warmPostal().catch(() => {}).finally(() => { warming = null; });
    event.waitUntil(warming);
  }
});

// Web Push (docs/api.md "Web Push"; queue tickets: docs/queue.md): a status changed. The payload holds only what a lock screen may show
// (a fixed sentence, the receipt number, the link); the page opens on a tap.
// The server words it in Japanese; the app's chosen language (meta 'lang', set by the page) rewords it here.
const PUSH_TEXT = {
  en: ['Your application’s status changed', 'Receipt {no}'],
  'ja-easy': ['しんせい の ようす が かわりました', 'うけつけ ばんごう {no}'],
};
const TICKET_NEAR = {
  en: ['Your turn is near', 'Number {no}: please wait close to the counter'],
  'ja-easy': ['もうすぐ あなた の ばん です', 'ばんごう {no}'],
};

self.addEventListener('push', (event) => {
  let d = {};
  try { d = event.data ? event.data.json() : {}; } catch (e) { d = {}; }
  const url = typeof d.url === 'string' && d.url.startsWith('/') ? d.url : '/';
  event.waitUntil((async () => {
    let lang = 'ja';
    try { lang = (await store.getMeta('lang')) || 'ja'; } catch (e) { /* no database yet */ }
    const no = typeof d.receipt_number === 'string' ? d.receipt_number : '';
    // A queue ticket's message (docs/queue.md "Near-turn push": kind 'near' or 'called', its number): the near one
    // reworded here; a call names its booth in Japanese, so it stays as sent. A reminder comes worded already.
    const ticket = typeof d.number === 'string' && (d.kind === 'near' || d.kind === 'called') ? d.number : '';
    const words = no ? PUSH_TEXT[lang] : ticket && d.kind === 'near' ? TICKET_NEAR[lang] : null;
    await self.registration.showNotification(words ? words[0] : d.title || '申請の状況が変わりました', {
      body: words ? words[1].replace('{no}', no || ticket) : d.body || '', tag: d.tag || 'madoguchi-status', data: { url },
      lang: lang !== 'en' ? 'ja' : words ? 'en' : '', renotify: Boolean(ticket), requireInteraction: d.kind === 'called',
    });
  })());
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || '/', self.location.origin).href;
  event.waitUntil((async () => {
    for (const c of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
      if (new URL(c.url).origin === self.location.origin && 'focus' in c) {
        await c.focus();
        return c.navigate ? c.navigate(url) : null;
      }
    }
    return self.clients.openWindow(url);
  })());
});
