// An in-memory stand-in for pwa/js/db.js's store (same methods; a failing transaction rolls back), for the
// tests of the sync engine and of draft saving.

const KEYS = { drafts: 'id', outbox: 'id', blobs: 'sha256', meta: 'key', submissions: 'id', replica: 'key', attention: 'id' };
const cp = (v) => (v === undefined ? undefined : v && v.blob instanceof Blob ? { ...v } : structuredClone(v));

export function memStore() {
  let data = Object.fromEntries(Object.keys(KEYS).map((k) => [k, new Map()]));
  const t = {
    get: async (n, k) => cp(data[n].get(k)),
    all: async (n) => [...data[n].values()].map(cp),
    put: async (n, v) => { data[n].set(v[KEYS[n]], cp(v)); },
    delete: async (n, k) => { data[n].delete(k); },
  };
  return {
    data: () => data,
    async tx(names, mode, fn) {
      const snap = Object.fromEntries(Object.entries(data).map(([k, m]) => [k, new Map(m)]));
      try { return await fn(t); } catch (e) { data = snap; throw e; }
    },
    all: (n) => t.all(n),
    get: (n, k) => t.get(n, k),
    put: (n, v) => t.put(n, v),
  };
}
