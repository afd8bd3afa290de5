// The lobby kiosk (/kiosk, server/console/kiosk_pages.py): check a booking in by its code (a QR scanner types it
// and presses Enter), or draw a walk-in number; show the number huge with the QR code of the phone's ticket page,
// print it, and return to the start after 30 seconds. Every text comes from the page (rendered in ja or en);
// the POSTs carry the app's CSRF header (api.js: the one client of the double-submit check).
import { api, ApiError } from './api.js';
import { waitsForItsTime } from './booking-calendar.js';
import { qrImage } from './qr.js';

const RETURN_MS = 30000;
const main = document.getElementById('kiosk');
const place = main.dataset.place;
const texts = {};
for (const el of document.getElementById('kiosk-texts').content.querySelectorAll('[data-key]')) texts[el.dataset.key] = el.textContent;
const $ = (id) => document.getElementById(id);
const start = $('start');
const ticket = $('ticket');
const error = $('kiosk-error');
let timer = 0;
let busy = false;

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ''));
}

function showError(key) {
  error.textContent = texts[key] || texts.failed;
  error.hidden = false;
}

function reset() {
  clearTimeout(timer);
  ticket.hidden = true;
  start.hidden = false;
  error.hidden = true;
  for (const form of start.querySelectorAll('form')) form.reset();
  $('ticket-qr').replaceChildren();
  $('code').focus();
}

function jstTime(iso) {
  return new Intl.DateTimeFormat(main.dataset.lang === 'en' ? 'en-GB' : 'ja-JP', {
    timeZone: 'Asia/Tokyo', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit',
  }).format(iso ? new Date(iso) : new Date());
}

function showTicket(t) {
  error.hidden = true;
  $('ticket-number').textContent = t.number;
  const wait = [fill(texts.ahead, { n: t.ahead }), fill(texts.estimate, { m: t.estimate_minutes })];
  // A booking is called at its time, not by arrival — unless that time has passed: late, it queues by arrival.
  if (t.kind === 'booking' && waitsForItsTime(t)) wait.push(texts.due);
  $('ticket-wait').textContent = wait.join('・');
  $('ticket-time').textContent = jstTime(null);
  const qr = $('ticket-qr');
  qr.replaceChildren();
  const svg = qrImage(t.qr, ''); // drawn from the server's path ({size, path}): no markup parsed
  if (svg) {
    svg.removeAttribute('role'); // the figure's span is the image, named in the page's language
    svg.removeAttribute('aria-label');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    qr.append(svg);
  }
  start.hidden = true;
  ticket.hidden = false;
  $('ticket-title').focus();
  clearTimeout(timer);
  timer = setTimeout(reset, RETURN_MS);
}

async function send(path, body) {
  if (busy) return;
  busy = true;
  try {
    showTicket(await api(path, { method: 'POST', body }));
  } catch (e) {
    const slug = e instanceof ApiError && e.problem && typeof e.problem.type === 'string' ? e.problem.type.split('/').pop() : '';
    showError(e instanceof ApiError && (e.status === 401 || e.status === 403) ? 'refused' : slug);
  } finally {
    busy = false;
  }
}

$('checkin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const code = $('code').value.trim();
  if (!code) { showError('empty'); $('code').focus(); return; }
  send(`/api/queue/${encodeURIComponent(place)}/checkin`, { code });
});

$('walkin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.target;
  const departments = [...form.querySelectorAll('input[name=departments]:checked')].map((i) => i.value);
  const body = { lang: main.dataset.lang };
  if (departments.length) body.departments = departments;
  if ($('priority').checked) body.priority_reason = texts.priority;
  send(`/api/queue/${encodeURIComponent(place)}/tickets`, body);
});

$('ticket-print').addEventListener('click', () => window.print());
$('ticket-back').addEventListener('click', reset);
// Someone still reading or printing: the 30 seconds start again.
ticket.addEventListener('pointerdown', () => { clearTimeout(timer); timer = setTimeout(reset, RETURN_MS); });
