// The lobby board (/board): follows the place's event stream (GET /api/queue/{place}/board/events) and, where
// a stream cannot be held, long-polls the board (?wait=25 with If-None-Match: held by the server until the board
// changes, asked again at once; docs/queue.md "Live updates") by the resident app's own rule: HOLD_S and
// longPollPause of pwa/js/polling.js, served next to this file (server/tickets/board_page.py) and loaded
// only on the page (node's tests import the pure parts below without it). Each new call is announced in
// the page's aria-live region in Japanese and English, one after another (two booths calling at once are both
// read out, not the second over the first). Names never reach this page: the API has none.
const root = typeof document === 'undefined' ? null : document.getElementById('board'); // null: node's tests
const place = root ? root.dataset.place : '';
const lang = root && root.dataset.lang === 'en' ? 'en' : 'ja';
const api = `/api/queue/${encodeURIComponent(place)}/board`;

// How a booth is called (twin of server/tickets/hub.py booth_label): "3" → 3番窓口 / counter 3.
export function boothLabel(booth, language) {
  const digits = /^[0-9]+$/.test(booth);
  if (language === 'en') return digits ? `Counter ${booth}` : booth;
  return digits ? `${booth}番窓口` : booth;
}

export function announcement(number, booth) {
  return [`受付番号 ${number} の方、${boothLabel(booth, 'ja')}へお越しください。`,
    `Number ${number}, please come to ${boothLabel(booth, 'en').replace(/^Counter/, 'counter')}.`];
}

/** A call's identity: a recall is the same number at a new time, so it is announced again. */
export const callKey = (call) => `${call.number}@${call.at}`;

/** The calls of `called` (newest first, as the board's view lists them) not announced yet, oldest first: those
 * above the newest one already `seen` (every call shown before, so a call falling off the list is no news). */
export function freshCalls(called, seen) {
  const known = called.findIndex((c) => seen.has(callKey(c)));
  return called.slice(0, known < 0 ? called.length : known).reverse();
}

// Each announcement stays this long before the next replaces it (a screen reader reads both sentences first).
export const ANNOUNCE_GAP_MS = 4000;

const timeFormat = new Intl.DateTimeFormat('ja-JP', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' });
// The calls shown so far (the first HTML's are not announced again).
let seen = new Set(root ? (root.dataset.shown || '').split(' ').filter(Boolean) : []);
const pending = [];
let speaking = null;
let etag = null;

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function announceNext() {
  speaking = null;
  const call = pending.shift();
  if (!call) return;
  announce(call);
  speaking = setTimeout(announceNext, ANNOUNCE_GAP_MS);
}

function announce(call) {
  const region = document.getElementById('announce');
  const [ja, en] = announcement(call.number, call.booth);
  const jaSpan = document.createElement('span');
  jaSpan.lang = 'ja';
  jaSpan.textContent = ja;
  const enSpan = document.createElement('span');
  enSpan.lang = 'en';
  enSpan.textContent = ` ${en}`;
  region.replaceChildren(jaSpan, enSpan);
}

function render(view) {
  const [latest, ...recent] = view.called;
  document.getElementById('latest').hidden = !latest;
  document.getElementById('none').hidden = Boolean(latest);
  document.getElementById('latest-number').textContent = latest ? latest.number : '';
  document.getElementById('latest-booth').textContent = latest ? boothLabel(latest.booth, lang) : '';
  // More calls than the usual list (many booths calling at once): smaller rows keep them on one screen.
  const many = view.called.length > Number(root.dataset.calls);
  document.getElementById('recent').closest('table').classList.toggle('many', many);
  document.getElementById('recent').replaceChildren(...recent.map((c) => {
    const tr = document.createElement('tr');
    tr.append(cell(c.number), cell(boothLabel(c.booth, lang)), cell(c.at ? timeFormat.format(new Date(c.at)) : ''));
    return tr;
  }));
  document.getElementById('waiting').textContent = String(view.waiting);
  root.dataset.version = String(view.version);
  pending.push(...freshCalls(view.called, seen));
  pending.splice(0, Math.max(0, pending.length - view.called.length)); // far behind (a long outage): the latest
  seen = new Set(view.called.map(callKey));
  if (!speaking) announceNext();
}

let live = null; // pwa/js/polling.js: { HOLD_S, longPollPause }
let pollTimer = null;
let inFlight = false; // a request is held: at most one at a time (the stream's errors come every second)
let hintS = 1; // the board view's poll_after_s
let pause = 0; // the last pause (ms): after errors it doubles up to 30 s (longPollPause)
function schedule(ms) {
  if (!pollTimer && !inFlight) pollTimer = setTimeout(poll, ms);
}

async function poll() {
  pollTimer = null;
  inFlight = true;
  const asked = Date.now();
  let answer;
  try {
    const r = await fetch(`${api}?wait=${live.HOLD_S}`, { headers: etag ? { 'If-None-Match': etag } : {}, cache: 'no-store' });
    answer = { failed: r.status !== 200 && r.status !== 304, status: r.status, tookMs: Date.now() - asked,
      retryAfterS: r.headers.get('Retry-After') };
    if (r.status === 200) {
      etag = r.headers.get('ETag');
      const view = await r.json();
      hintS = view.poll_after_s || 1;
      render(view);
    }
  } catch {
    answer = { failed: true }; // offline for a moment: try again a little later
  }
  inFlight = false;
  pause = live.longPollPause(pause, { ...answer, hintS });
  if (!streaming) schedule(pause);
}

let streaming = false;
function listen() {
  if (typeof EventSource === 'undefined') {
    schedule(0);
    return;
  }
  const source = new EventSource(`${api}/events`);
  source.addEventListener('board', (e) => {
    streaming = true;
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    render(JSON.parse(e.data));
  });
  source.addEventListener('error', () => {
    // The stream broke (a proxy, a restart): poll until it is back (EventSource reconnects by itself).
    streaming = false;
    schedule(500);
  });
}

if (root) {
  live = await import('./polling.js');
  listen();
}
