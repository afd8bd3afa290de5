// IndexedDB storage: drafts, the sync outbox, the replica of synced records, attachment blobs, receipts and
// small settings. No imports: the build also inlines this file into the (classic) service worker, which
// syncs on Background Sync. The schema is versioned; an upgrade only ever adds stores or indexes, so a new
// app build never loses drafts or queued changes.
//   drafts       {id, kind: draft|bundle, answers|shared, seen (synced fields last committed), ...}
//   outbox       sync entries {id: mutation_id, seq, body (frozen JSON), state, receipt, ...} (sync.js);
//                items of the app's first outbox (before the sync protocol) are converted at start
//   replica      {key: "type/id", type, id, version, deleted, data}: records as the server last sent them
//   attention    entries that ended rejected or waiting for a person's review (shown to the user)
//   blobs        {sha256, blob, type, name, size, queued, owners, offset, uploaded}
//   submissions  receipts of sent applications;  meta {key, value}: client_id, client_seq, cursor, owner…

const DB_NAME = 'madoguchi';
const DB_VERSION = 2;
let dbPromise = null;

function openDB(idb = globalThis.indexedDB) {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    const req = idb.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = (ev) => {
      const db = req.result;
      const old = ev.oldVersion || 0;
      if (old < 1) {
        db.createObjectStore('drafts', { keyPath: 'id' });
        db.createObjectStore('outbox', { keyPath: 'id' });
        db.createObjectStore('blobs', { keyPath: 'sha256' });
        db.createObjectStore('meta', { keyPath: 'key' });
        db.createObjectStore('submissions', { keyPath: 'id' });
      }
      if (old < 2) {
        db.createObjectStore('replica', { keyPath: 'key' });
        db.createObjectStore('attention', { keyPath: 'id' });
      }
      // Future versions: `if (old < 3) { ... }` — add, never drop.
    };
    req.onsuccess = () => {
      const db = req.result;
      // Another tab (or a new service worker) upgrading the schema: let it proceed.
      db.onversionchange = () => { db.close(); dbPromise = null; };
      resolve(db);
    };
    req.onerror = () => { dbPromise = null; reject(req.error); };
    req.onblocked = () => { /* an old tab holds the DB; it closes on versionchange */ };
  });
  return dbPromise;
}

function reqP(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Run `fn(t)` in ONE transaction over `names`; `t` has get/all/put/delete(storeName, ...) returning promises.
 * `fn` may await only these (any other await would let the transaction commit early). A throw aborts it.
 */
async function dbTx(names, mode, fn) {
  const db = await openDB();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, mode);
    const t = {
      get: (n, k) => reqP(tx.objectStore(n).get(k)),
      all: (n) => reqP(tx.objectStore(n).getAll()),
      put: (n, v) => reqP(tx.objectStore(n).put(v)),
      delete: (n, k) => reqP(tx.objectStore(n).delete(k)),
    };
    let result;
    let failure = null;
    Promise.resolve().then(() => fn(t)).then((r) => { result = r; }, (e) => {
      failure = e;
      try { tx.abort(); } catch { /* already finished */ }
    });
    tx.oncomplete = () => (failure ? reject(failure) : resolve(result));
    tx.onerror = () => reject(failure || tx.error);
    tx.onabort = () => reject(failure || tx.error || new Error('transaction aborted'));
  });
}

export const store = {
  tx: dbTx,
  get: (name, key) => dbTx([name], 'readonly', (t) => t.get(name, key)),
  all: (name) => dbTx([name], 'readonly', (t) => t.all(name)),
  put: (name, value) => dbTx([name], 'readwrite', (t) => t.put(name, value)),
  delete: (name, key) => dbTx([name], 'readwrite', (t) => t.delete(name, key)),
  async getMeta(key) { const r = await store.get('meta', key); return r ? r.value : undefined; },
  setMeta: (key, value) => store.put('meta', { key, value }),
};
