// IndexedDB storage for drafts, the outbox, attachment blobs and small settings.
// No imports: the build also inlines this file into the (classic) service worker, which flushes the
// outbox on Background Sync. The schema is versioned; an upgrade only ever adds stores or indexes, so a
// new app build never loses drafts or queued submissions.

const DB_NAME = 'madoguchi';
const DB_VERSION = 1;
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
      // Future versions: `if (old < 2) { ... }` — add, never drop.
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

async function dbTx(store, mode, fn) {
  const db = await openDB();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    let result;
    Promise.resolve(fn(tx.objectStore(store))).then((r) => { result = r; }, reject);
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

export const store = {
  get: (name, key) => dbTx(name, 'readonly', (s) => reqP(s.get(key))),
  all: (name) => dbTx(name, 'readonly', (s) => reqP(s.getAll())),
  put: (name, value) => dbTx(name, 'readwrite', (s) => reqP(s.put(value))),
  delete: (name, key) => dbTx(name, 'readwrite', (s) => reqP(s.delete(key))),
  async getMeta(key) { const r = await store.get('meta', key); return r ? r.value : undefined; },
  setMeta: (key, value) => store.put('meta', { key, value }),
};
