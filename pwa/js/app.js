// The resident app's entry: the router, the language, the sync triggers and the service worker. Hash
// routes, each page a module loaded when first needed (the service worker precaches them all):
//   #/                 home (drafts, waiting and submitted applications, needs-info items)   page-home.js
//   #/find             procedure finder (search, browse by life event)                       page-finder.js
//   #/p/{id}           opens a procedure: its first step (a draft), or the facts for non-filers page-procedure.js
//   #/d/{draft}/{n}    page n of a draft's form                                              page-draft.js
//   #/d/{draft}/review check answers, then 送信                                              page-review.js
//   #/e/{event}        life-event navigator                                                  page-event.js
//   #/b/{bundle}       one combined form; #/b/{bundle}/review                                page-bundle.js
//   #/s/{id}           a submission: state, timeline, reply to 追加情報が必要, notifications   page-submission.js
//   #/outbox           what this device still has to send, per item; export to a file        page-outbox.js
//   #/h, #/h/{id}      staff: household records (shared records, editable offline)          households.js
//   #/signin           passkeys                                                              page-signin.js
//   #/recover          「パスキーをなくした方」: a recovery code makes a new passkey             page-recover.js
//   #/c, #/c/{id}      the other person of a two-person procedure: code, then their part    page-confirm.js
//   #/k, #/k/{draft}   「窓口で見せるコード」: a code (and QR) for the counter, with a draft's answers  page-counter.js
//   #/v                来庁の予約: my bookings, the booking flow; #/v/b/{id} one booking,          page-booking.js
//                      #/v/m/{id}/{token} the manage link of a booking made without an account
//   #/q/{token}        a queue ticket: position, estimate, live; called → 「3番窓口へ」           page-ticket.js
// Drafts, submissions and household records travel over the sync protocol (sync.js, docs/sync.md).
// A page renders into a <main> of its own, off-screen; it replaces the shown one only if no newer
// navigation started meanwhile (router.js), so a slow page never draws over a newer one.

import { t, setLang, initialLang, loadLang, htmlLang, getLang } from './i18n.js';
import { store } from './db.js';
import { el } from './dom.js';
import { createRouter, matchRoute } from './router.js';
import {
  state, loadIndex, refreshSession, sessionReady, renderAccount, renderSummary, updateSync, flush, scheduler, drafts, setRouteHandler, focusTitle,
  link, uuid, showValue, itemStateText, notFound, failPage, syncEngine, pulled,
} from './shell.js';
import { isLegacyEntry } from './syncstate.js';

const html = document.documentElement;

// Literal import() specifiers: the build rewrites them to the hashed file names.
const PAGES = {
  home: () => import('./page-home.js'),
  finder: () => import('./page-finder.js'),
  procedure: () => import('./page-procedure.js'),
  draft: () => import('./page-draft.js'),
  review: () => import('./page-review.js'),
  event: () => import('./page-event.js'),
  bundle: () => import('./page-bundle.js'),
  submission: () => import('./page-submission.js'),
  outbox: () => import('./page-outbox.js'),
  households: () => import('./households.js'),
  signin: () => import('./page-signin.js'),
  recover: () => import('./page-recover.js'),
  confirm: () => import('./page-confirm.js'),
  counter: () => import('./page-counter.js'),
  booking: () => import('./page-booking.js'),
  ticket: () => import('./page-ticket.js'),
  notFound: async () => ({ render: notFound }),
};

const ROUTES = [
  { path: '/', page: 'home' },
  { path: '/find', page: 'finder' },
  { path: '/p/:id', page: 'procedure' },
  { path: '/d/:draft/review', page: 'review' },
  { path: '/d/:draft/:n?', page: 'draft' },
  { path: '/e/:event', page: 'event' },
  { path: '/b/:bundle/:review?', page: 'bundle' },
  { path: '/s/:id', page: 'submission' },
  { path: '/outbox', page: 'outbox' },
  { path: '/h/:id?', page: 'households' },
  { path: '/signin', page: 'signin' },
  { path: '/recover', page: 'recover' },
  { path: '/c/:id?', page: 'confirm' },
  { path: '/k/:draft?', page: 'counter' },
  { path: '/v/:a?/:id?/:token?', page: 'booking' },
  { path: '/q/:token', page: 'ticket' },
];

/**
 * What a page draws into: its own <main> (on screen once shown), its title, and its reactions to sync
 * events. The services households.js takes from its `ui` are here too.
 */
function newView(nav) {
  const main = el('main', { id: 'main', tabindex: '-1' });
  const view = {
    main, title: null, shown: false, hooks: { onOutbox: null, onPulled: null },
    /** False once a newer navigation started: the page is not shown, and should not redirect. */
    current: () => router.isCurrent(nav),
    setPage(title, ...nodes) {
      const h1 = el('h1', { id: 'page-title', tabindex: '-1', text: title });
      main.replaceChildren(h1, ...nodes);
      view.title = title;
      if (view.shown) document.title = `${title} — ${t('app')}`;
      return h1;
    },
    onOutbox: (fn) => { view.hooks.onOutbox = fn; if (view.shown) state.onOutbox = fn; },
    onPulled: (fn) => { view.hooks.onPulled = fn; if (view.shown) state.onPulled = fn; },
    store, link, uuid, showValue, itemStateText, updateSync,
    route: (focus) => route(focus), flush: (force) => flush(force), session: () => state.session,
  };
  return view;
}

function show(view, nav) {
  document.getElementById('main').replaceWith(view.main);
  view.shown = true;
  document.title = `${view.title} — ${t('app')}`;
  state.onOutbox = view.hooks.onOutbox;
  state.onPulled = view.hooks.onPulled;
  const missed = state.missedPulls;
  state.missedPulls = null;
  if (missed && missed.size && state.onPulled) state.onPulled(missed);
  view.main.dataset.ready = 'true';
  const anchor = nav.match && nav.match.anchor && document.getElementById(nav.match.anchor);
  if (anchor) anchor.scrollIntoView({ block: 'start' });
  else if (nav.opts.focus) focusTitle();
}

const router = createRouter({
  routes: ROUTES,
  load: (page) => PAGES[page](),
  run: async (mod, match, nav) => {
    nav.match = match;
    await loadIndex();
    const view = newView(nav);
    await mod.render(view, match.params, match.query);
    return view.title === null ? null : view; // no title: the page went elsewhere (location.hash)
  },
  show,
  fail: (e, match, nav) => {
    console.error(e);
    nav.match = match;
    const view = newView(nav);
    failPage(view, t('procedureMissing'));
    show(view, nav);
  },
});

function route(focus = true) {
  const hash = location.hash || '#/';
  if (matchRoute(ROUTES, hash) === undefined) return null; // an in-page anchor: the page stays
  // The page shown reacts to sync events only until another is asked for.
  state.onOutbox = null;
  state.onPulled = null;
  state.missedPulls = new Set();
  return router.navigate(hash, { focus });
}
setRouteHandler(route);

function warmPostal() {
  // After the app is usable, let the service worker fetch the postal shards in the background.
  const go = async () => {
    if (!navigator.onLine || !('serviceWorker' in navigator)) return;
    const reg = await navigator.serviceWorker.ready;
    const index = await loadIndex();
    if (reg.active && index.postal) reg.active.postMessage({ type: 'warm-postal' });
  };
  setTimeout(() => go().catch(() => {}), 3000);
}

function applyLang() {
  const lang = getLang();
  html.lang = htmlLang(lang);
  document.getElementById('lang').value = lang;
  document.getElementById('lang-label').textContent = t('language');
  document.getElementById('skip-link').textContent = t('skip');
  document.getElementById('brand-name').textContent = t('app');
  document.getElementById('foot-text').textContent = t('footer');
  document.getElementById('sync-details').textContent = t('outboxLink');
  renderAccount();
  renderSummary(); // in the new language at once, then from storage
  updateSync();
}

async function useLang(lang) {
  await loadLang(lang).catch((e) => console.error(e)); // not loaded: t() falls back to Japanese
  setLang(lang);
  applyLang();
  store.setMeta('lang', getLang()).catch(() => {}); // the service worker words notifications in it
}

async function start() {
  // Fetch the first page's module while the language and the database get ready.
  const first = matchRoute(ROUTES, location.hash || '#/');
  if (first) router.preload(first.page);
  await useLang(initialLang());
  // Items queued before the sync protocol (a string body, no seq): rare, so the engine loads only for them.
  try {
    if ((await store.all('outbox')).some(isLegacyEntry)) await (await syncEngine()).migrateLegacyOutbox(store);
  } catch (e) { console.error(e); }
  document.getElementById('lang').addEventListener('change', (e) => { useLang(e.target.value).then(() => route(false)); });
  document.getElementById('skip-link').addEventListener('click', (e) => { e.preventDefault(); document.getElementById('main').focus(); });
  document.getElementById('sync-retry').addEventListener('click', () => flush(true));
  window.addEventListener('hashchange', () => { drafts.flush().then((n) => { if (n) flush(); }); route(); });
  window.addEventListener('online', () => { (state.sessionReady = refreshSession()).then(() => flush(true)); });
  // Leaving or hiding the app: pending draft edits go into the outbox now (IndexedDB outlives the page).
  window.addEventListener('pagehide', () => { drafts.flush(); });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') drafts.flush();
    else if (navigator.onLine && state.session.signed_in) flush();
  });
  scheduler.start();
  if ('serviceWorker' in navigator) {
    const hadController = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.register('/sw.js').catch(() => {});
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (e.data && e.data.type === 'outbox-changed') { updateSync(); if (state.onOutbox) state.onOutbox(); }
      if (e.data && e.data.type === 'pulled') pulled(new Set(e.data.types || []));
    });
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      // A new build took over. Drafts and the outbox live in IndexedDB, so reloading loses nothing;
      // stay put while a form is open (its procedure JSON is already in memory).
      if (hadController && !/^#\/(d|b)\//.test(location.hash)) location.reload();
    });
  }
  if (navigator.storage && navigator.storage.persist) navigator.storage.persisted().then((p) => p || navigator.storage.persist()).catch(() => {});
  await route(false);
  updateSync();
  warmPostal();
  // The page was drawn from the cached session; if the server's says otherwise (signed in or out, another
  // account or role), draw it again so it shows what this account can use.
  const before = JSON.stringify(state.session.account || null);
  sessionReady().then((s) => {
    if (JSON.stringify(s.account || null) !== before) route(false);
    flush();
    // "And always on the next app start": statuses changed since last seen (statuses.js). The home page reads
    // them itself when drawn (page-home.js); on another page they are stored for it.
    const home = location.hash === '' || location.hash === '#/';
    if (!home && state.session.signed_in && navigator.onLine) import('./statuses.js').then((m) => m.refreshStatuses(store)).catch(() => {});
  });
}

start();
