// The PWA's router (pwa/js/router.js): hash routes, page modules loaded once, and a render that finishes
// after a newer navigation is dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute, createRouter } from '../../pwa/js/router.js';

const ROUTES = [
  { path: '/', page: 'home' },
  { path: '/find', page: 'finder' },
  { path: '/d/:draft/review', page: 'review' },
  { path: '/d/:draft/:n?', page: 'draft' },
  { path: '/h/:id?', page: 'households' },
];

function deferred() {
  let resolve, reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}

test('matchRoute: pages, parameters (decoded), optional last parameter, query and anchor', () => {
  assert.equal(matchRoute(ROUTES, '').page, 'home');
  assert.equal(matchRoute(ROUTES, '#/').page, 'home');
  const r = matchRoute(ROUTES, '#/d/abc%20d/review');
  assert.deepEqual([r.page, r.params], ['review', { draft: 'abc d' }]);
  assert.deepEqual(matchRoute(ROUTES, '#/d/x/2').params, { draft: 'x', n: '2' });
  assert.deepEqual(matchRoute(ROUTES, '#/d/x').params, { draft: 'x' });
  assert.deepEqual(matchRoute(ROUTES, '#/h').params, {});
  assert.equal(matchRoute(ROUTES, '#/find?q=%E4%BD%8F').query.get('q'), '住');
  const a = matchRoute(ROUTES, '#/find#events');
  assert.deepEqual([a.page, a.anchor], ['finder', 'events']);
  assert.equal(matchRoute(ROUTES, '#/nope'), null);
  assert.equal(matchRoute(ROUTES, '#/d'), null);
  assert.equal(matchRoute(ROUTES, '#/d/x/1/2'), null);
  assert.equal(matchRoute(ROUTES, '#/d/%E0%A4%A'), null); // malformed escape: not found, no exception
  assert.equal(matchRoute(ROUTES, '#main'), undefined); // in-page anchor: not a navigation
});

function harness(renders) {
  const shown = [];
  const failed = [];
  const loads = [];
  const router = createRouter({
    routes: ROUTES,
    load: async (page) => { loads.push(page); return { page }; },
    run: async (mod, match) => renders[mod.page](match),
    show: (view) => shown.push(view),
    fail: (e, match) => failed.push([match.page, e.message]),
  });
  return { router, shown, failed, loads };
}

test('a render that finishes after a newer navigation is dropped', async () => {
  const slow = deferred();
  const started = deferred();
  const h = harness({ draft: () => { started.resolve(); return slow.promise; }, finder: async () => 'finder view' });
  const first = h.router.navigate('#/d/x/0');
  await started.promise; // the draft page is rendering
  const second = h.router.navigate('#/find');
  assert.equal(await second, 'shown');
  slow.resolve('draft view');
  assert.equal(await first, 'stale');
  assert.deepEqual(h.shown, ['finder view']);
});

test('a page module that arrives after a newer navigation is not rendered', async () => {
  const gate = deferred();
  let rendered = 0;
  const shown = [];
  const router = createRouter({
    routes: ROUTES,
    load: (page) => (page === 'draft' ? gate.promise.then(() => ({ page })) : { page }),
    run: async (mod) => { rendered += 1; return mod.page; },
    show: (v) => shown.push(v),
    fail: () => assert.fail('no failure expected'),
  });
  const first = router.navigate('#/d/x');
  assert.equal(await router.navigate('#/'), 'shown');
  gate.resolve();
  assert.equal(await first, 'stale');
  assert.deepEqual([rendered, shown], [1, ['home']]);
});

test('errors: the current navigation shows the error page, a stale one is dropped silently', async () => {
  const slow = deferred();
  const started = deferred();
  const h = harness({ draft: () => { started.resolve(); return slow.promise; }, home: async () => { throw new Error('boom'); }, finder: async () => 'f' });
  assert.equal(await h.router.navigate('#/'), 'failed');
  assert.deepEqual(h.failed, [['home', 'boom']]);
  const first = h.router.navigate('#/d/x');
  await started.promise; // the draft page is rendering
  await h.router.navigate('#/find');
  slow.reject(new Error('late'));
  assert.equal(await first, 'stale');
  assert.deepEqual(h.failed, [['home', 'boom']]);
});

test('unknown paths go to notFound; a page that redirects shows nothing; anchors are ignored', async () => {
  const h = harness({ notFound: async () => 'not found', draft: async () => null });
  assert.equal(await h.router.navigate('#/nope'), 'shown');
  assert.equal(await h.router.navigate('#/d/x'), 'none');
  assert.equal(await h.router.navigate('#f-name'), 'ignored');
  assert.deepEqual(h.shown, ['not found']);
});

test('isCurrent tells a page whether a newer navigation started (then it must not redirect)', async () => {
  const navs = [];
  const router = createRouter({ routes: ROUTES, load: async (page) => ({ page }), run: async (mod, m, nav) => { navs.push(nav); return mod.page; }, show: () => {}, fail: () => {} });
  await router.navigate('#/d/x');
  assert.equal(router.isCurrent(navs[0]), true);
  await router.navigate('#/');
  assert.deepEqual(navs.map((n) => router.isCurrent(n)), [false, true]);
  assert.equal(router.isCurrent(null), false);
});

test('a page module is loaded once; a failed load (offline, not cached) is tried again', async () => {
  let attempts = 0;
  const router = createRouter({
    routes: ROUTES,
    load: async (page) => { attempts += 1; if (attempts === 1) throw new Error('offline'); return { page }; },
    run: async (mod) => mod.page,
    show: () => {},
    fail: () => {},
  });
  assert.equal(await router.navigate('#/'), 'failed');
  assert.equal(await router.navigate('#/'), 'shown');
  assert.equal(await router.navigate('#/'), 'shown');
  assert.equal(attempts, 2);
});
