// The home page's 来庁の予約 block (page-home.js loads it for residents and people not signed in): the next booking
// (the account's, or one booked on this device with its manage link), an open ticket of today, and the
// 「来庁を予約する」 link (#/v, page-booking.js). Strings: strings-booking.js.

import { t, tx, getLang, addStrings } from './i18n.js';
import { STRINGS } from './strings-booking.js';
import { store } from './db.js';
import { api } from './api.js';
import { el } from './dom.js';
import { can, link } from './shell.js';
import { dayName, hm, nextBookings, manageHash, ticketOpen } from './booking-calendar.js';

addStrings(STRINGS);

const DAY_MS = 24 * 3600000;

// The device's tickets (IndexedDB meta `tickets`, the newest 5), read and written here only: page-ticket.js
// remembers each ticket it shows, the home block lists the open ones.
/** Tickets this device follows: [{token, number, place_name, status, at}]. */
export async function savedTickets() { return (await store.getMeta('tickets')) || []; }
export async function rememberTicket(token, tk) {
  const list = (await savedTickets()).filter((x) => x.token !== token);
  list.push({ token, number: tk.number, place_name: tk.place_name, status: tk.status, at: Date.now() });
  await store.setMeta('tickets', list.slice(-5));
}

export async function bookingBlock() {
  let mine = [];
  if (can('booking') && navigator.onLine) {
    try { mine = (await api('/api/bookings')).bookings || []; } catch { /* offline: the device's list */ }
  }
  const saved = (await store.getMeta('bookings')) || [];
  const next = nextBookings(mine, saved)[0];
  const tickets = (await savedTickets()).filter((x) => ticketOpen(x) && Date.now() - x.at < DAY_MS);
  const cards = [];
  for (const x of tickets) {
    cards.push(el('li', { class: 'card', 'data-ticket': x.number },
      link(`#/q/${encodeURIComponent(x.token)}`, t('homeTicket', { no: x.number }), 'card-link'),
      el('p', { class: 'meta', text: tx(x.place_name) })));
  }
  if (next) {
    cards.push(el('li', { class: 'card', 'data-booking': next.id },
      link(manageHash(next, next.token), t('homeBooking', { when: `${dayName(next.day, getLang())} ${hm(next.start)}` }), 'card-link'),
      el('p', { class: 'meta', text: tx(next.place_name) })));
  }
  return [el('section', { id: 'visit', 'aria-labelledby': 'visit-title' },
    el('h2', { id: 'visit-title', text: t('bkTitle') }),
    cards.length ? el('ul', { class: 'cards' }, cards) : null,
    el('p', {}, link('#/v', t('bkStart'), 'btn btn-secondary')))];
}
