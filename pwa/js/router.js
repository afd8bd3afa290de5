// Hash routes -> page modules loaded when first needed. No DOM here (tests/js/pwa-router.test.mjs): the
// app injects how a page module is loaded (`import()`), run and shown. A page whose load or render
// finishes after a newer navigation began is dropped, so a slow page never replaces a newer one.

/**
 * Route patterns: '/d/:draft/review' (a `:name` segment is a parameter, `:name?` an optional last one).
 * Returns {page, params, query, anchor} for the first route that matches the hash ('#/find?q=x',
 * '#/find#events': an anchor on the page), null for an unknown path, or undefined for an in-page anchor
 * (#main, #f-name: not a route at all).
 */
export function matchRoute(routes, hash) {
  const h = hash || '#/';
  if (!h.startsWith('#/')) return undefined;
  const [route, query = ''] = h.slice(1).split('?');
  const [path, anchor = null] = route.split('#');
  let seg;
  try { seg = path.split('/').filter(Boolean).map(decodeURIComponent); } catch { return null; }
  for (const r of routes) {
    const pat = r.path.split('/').filter(Boolean);
    const required = pat.filter((p) => !p.endsWith('?')).length;
    if (seg.length < required || seg.length > pat.length) continue;
    const params = {};
    const ok = pat.every((p, i) => {
      if (p.startsWith(':')) {
        if (seg[i] !== undefined) params[p.replace(/^:|\?$/g, '')] = seg[i];
        return true;
      }
      return p === seg[i];
    });
    if (ok) return { page: r.page, params, query: new URLSearchParams(query), anchor };
  }
  return null;
}

/**
 * One navigation at a time wins. `load(page)` fetches a page module (memoized here, so a module is
 * fetched once); `run(module, match, nav)` renders it off-screen and returns what to show (or null: the
 * page redirected); `show(view, nav)` puts it on screen; `fail(error, match, nav)` shows an error page.
 * `navigate()` resolves to 'shown', 'none' (nothing to show), 'failed' or 'stale' (dropped: a newer
 * navigation started meanwhile), or 'ignored' (an in-page anchor).
 */
export function createRouter({ routes, load, run, show, fail }) {
  const modules = new Map();
  let seq = 0;
  let current = null;

  function module(page) {
    if (!modules.has(page)) {
      const p = Promise.resolve().then(() => load(page));
      p.catch(() => modules.delete(page)); // offline and not cached yet: try again next time
      modules.set(page, p);
    }
    return modules.get(page);
  }

  async function navigate(hash, opts = {}) {
    const match = matchRoute(routes, hash);
    if (match === undefined) return 'ignored';
    const nav = { id: ++seq, hash, opts };
    current = nav;
    const m = match || { page: 'notFound', params: {}, query: new URLSearchParams(), anchor: null };
    try {
      const mod = await module(m.page);
      if (current !== nav) return 'stale';
      const view = await run(mod, m, nav);
      if (current !== nav) return 'stale';
      if (!view) return 'none';
      show(view, nav);
      return 'shown';
    } catch (e) {
      if (current !== nav) return 'stale';
      fail(e, m, nav);
      return 'failed';
    }
  }

  return {
    navigate,
    isCurrent: (nav) => current === nav,
    preload: (page) => module(page).catch(() => null),
  };
}
