// #/q/{token}: a queue ticket on the phone (the link printed on the kiosk's paper, or the booking's ticket). The
// number huge, how many are ahead and the estimate, 「3番窓口へお越しください」 when called. Live: the server's
// event stream (GET /api/tickets/{token}/events), else long polling (?wait=25 with the ETag: held by the server
// until the ticket changes, asked again at once; back-off from 3 s to 30 s only after errors: booking-calendar.js
// longPollPause). Changes are announced politely, a call assertively. 「順番が
// 近づいたら通知する」 subscribes this browser's Web Push to the ticket; 「順番待ちをやめる」 leaves the queue.
// The API: docs/queue.md. Strings: strings-booking.js.

import { t, tx, addStrings } from './i18n.js';
import { STRINGS } from './strings-booking.js';
import { api } from './api.js';
import { el } from './dom.js';
import { pushPossible, pushSubscription } from './statuses.js';
import { link } from './shell.js';
import { ticketOpen, jstTime, waitsForItsTime } from './booking-calendar.js';
import { HOLD_S, longPollPause } from './polling.js';
import { savedTickets, rememberTicket } from './booking-home.js';

addStrings(STRINGS);

const enc = encodeURIComponent;


/** What the ticket says now: [main sentence, detail] in the current language. */
function statusLines(tk) {
  const booth = tk.booth || '';
  // Booths are numbers (「3番窓口」) or names (「こども課」) in the city's configuration.
  const at = /^\d+$/.test(booth) ? '' : 'Named';
  switch (tk.status) {
    case 'called': return [t(`tkCalled${at}`, { booth }), t('tkCalledHint')];
    case 'serving': return [t(`tkServing${at}`, { booth }), ''];
    case 'done': return [t('tkDone'), ''];
    case 'left': return [t('tkLeft'), ''];
    case 'no_show': return [t('tkNoShow'), ''];
    default: {
      const ahead = Number(tk.ahead) || 0;
      const place = ahead ? t('tkAhead', { n: ahead }) : t('tkNext');
      const due = waitsForItsTime(tk) ? t('tkDue', { at: jstTime(tk.due_at) }) : '';
      const estimate = ahead || tk.estimate_minutes ? t('tkEstimate', { n: Number(tk.estimate_minutes) || 0 }) : '';
      // A call missed (不在): say so, and when the next call can come (not before not_before), then the place.
      const again = tk.not_before && Date.parse(tk.not_before) > Date.now() ? t('tkMissedAgain', { at: jstTime(tk.not_before) }) : '';
      if (tk.missed > 0) return [t('tkMissed'), [again, place, estimate].filter(Boolean).join(' ')];
      return [place, [estimate, tk.near ? t('tkNear') : '', due].filter(Boolean).join(' ')];
    }
  }
}

export async function render(view, { token }) {
  const { main } = view;
  view.setPage(t('tkTitle'));
  let tk;
  let etag = null;
  let answer = {}; // how the last request went (longPollPause)
  let held = null; // the AbortController of a held request
  const get = async (hold = 0) => {
    const asked = Date.now();
    held = new AbortController();
    const r = await fetch(`/api/tickets/${enc(token)}${hold ? `?wait=${hold}` : ''}`, { headers: { Accept: 'application/json', ...(etag ? { 'If-None-Match': etag } : {}) }, credentials: 'same-origin', signal: held.signal });
    answer = { status: r.status, tookMs: Date.now() - asked, retryAfterS: r.headers.get('Retry-After') };
    if (r.status === 304) return null;
    if (!r.ok) { const e = new Error(`HTTP ${r.status}`); e.status = r.status; throw e; }
    etag = r.headers.get('ETag');
    return r.json();
  };
  try { tk = await get(); } catch (e) {
    const saved = (await savedTickets()).find((x) => x.token === token);
    main.append(el('p', { class: 'error-text', role: 'alert', text: e.status === 404 ? t('tkNotFound') : t('bkOffline') }));
    if (saved && e.status !== 404) main.append(el('p', { class: 'ticket-no', text: saved.number }));
    main.append(el('p', {}, link('#/', t('toHome'), 'btn-link')));
    return;
  }
  const number = el('p', { class: 'ticket-no', id: 'ticket-number' });
  const place = el('p', { class: 'meta', id: 'ticket-place' });
  // Two live regions: every change politely; the call (「3番窓口へお越しください」) at once.
  const polite = el('div', { id: 'ticket-status', 'aria-live': 'polite' });
  const called = el('div', { id: 'ticket-called', role: 'alert' });
  const actions = el('div', { class: 'actions' });
  const msg = el('p', { class: 'hint', id: 'ticket-msg', 'aria-live': 'polite' });
  main.append(number, place, called, polite, msg, actions, el('p', {}, link('#/v', t('bkTitle'), 'btn-link')));

  let lastKey = '';
  const draw = (next) => {
    tk = next;
    number.replaceChildren(el('span', { class: 'visually-hidden', text: t('tkNumberIs') }), tk.number);
    place.textContent = tx(tk.place_name) || tk.place || '';
    const [first, detail] = statusLines(tk);
    const key = `${tk.status}|${first}|${detail}`;
    if (key === lastKey) return;
    lastKey = key;
    if (tk.status === 'called') {
      called.replaceChildren(el('p', { class: 'ticket-call', id: 'ticket-call', text: first }), el('p', { text: detail }));
      polite.replaceChildren();
    } else {
      called.replaceChildren();
      polite.replaceChildren(el('p', { class: 'ticket-ahead', id: 'ticket-ahead', text: first }), detail ? el('p', { id: 'ticket-estimate', text: detail }) : '');
    }
    actions.hidden = !ticketOpen(tk) || tk.status === 'serving';
    rememberTicket(token, tk).catch(() => {});
  };
  draw(tk);

  // Web Push for this ticket (the same browser subscription as following an application).
  if (pushPossible() && Notification.permission !== 'denied') {
    const notify = el('button', { type: 'button', class: 'btn btn-secondary', id: 'ticket-notify', text: t('tkNotify') });
    notify.addEventListener('click', async () => {
      notify.disabled = true;
      try {
        const sub = await pushSubscription();
        if (!sub) { msg.textContent = t('tkNotifyBlocked'); return; }
        await api(`/api/tickets/${enc(token)}/push`, { method: 'POST', body: sub.toJSON() });
        msg.textContent = t('tkNotifyOn');
        notify.remove();
      } catch (e) {
        console.error(e);
        notify.disabled = false;
        msg.textContent = t('tkNotifyFailed');
      }
    });
    actions.append(notify);
  }
  const leave = el('button', { type: 'button', class: 'btn-link', id: 'ticket-leave', text: t('tkLeave') });
  const sure = el('div', { hidden: true, id: 'leave-sure' }, el('p', { text: t('tkLeaveSure') }));
  const yes = el('button', { type: 'button', class: 'btn', id: 'ticket-leave-yes', text: t('tkLeaveYes') });
  const no = el('button', { type: 'button', class: 'btn-link', text: t('bkCancelNo') });
  sure.append(el('div', { class: 'actions' }, yes, no));
  leave.addEventListener('click', () => { sure.hidden = false; yes.focus(); });
  no.addEventListener('click', () => { sure.hidden = true; leave.focus(); });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try { draw(await api(`/api/tickets/${enc(token)}/leave`, { method: 'POST' })); sure.hidden = true; } catch { yes.disabled = false; msg.textContent = t('bkFailed'); }
  });
  actions.append(leave, sure);

  // Live: the event stream while this page is shown; long polling when the stream fails or is missing.
  let es = null;
  let timer = null;
  let wait = 0;
  let stopped = false;
  const shown = () => view.current(); // false once another page was asked for (drawn off-screen until then)
  const stop = () => { stopped = true; if (es) es.close(); es = null; clearTimeout(timer); if (held) held.abort(); };
  const poll = async () => {
    if (stopped || !shown() || !ticketOpen(tk)) { stop(); return; }
    let failed = false;
    try {
      const next = await get(HOLD_S);
      if (next) draw(next);
    } catch { failed = true; /* offline or stopped: try again later */ }
    if (stopped) return;
    wait = longPollPause(wait, { failed, ...answer, hintS: tk.poll_after_s });
    timer = setTimeout(poll, wait);
  };
  if (ticketOpen(tk)) {
    if (typeof EventSource === 'function') {
      es = new EventSource(`/api/tickets/${enc(token)}/events`);
      es.addEventListener('ticket', (e) => {
        if (!shown()) { stop(); return; }
        try { draw(JSON.parse(e.data)); } catch { /* a broken event: the next one */ }
        if (!ticketOpen(tk)) stop();
      });
      es.onerror = () => { if (es && es.readyState === EventSource.CLOSED) { es = null; poll(); } };
    } else poll();
    window.addEventListener('hashchange', stop, { once: true });
  }
}
