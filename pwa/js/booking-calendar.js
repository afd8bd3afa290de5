// The pure parts of booking a visit and following a ticket (page-booking.js, page-ticket.js, booking-home.js): days
// and times as people read them (JST, 「12月8日（火）」), the day the calendar opens on, why a day is closed, the
// hold's countdown and the booking code's spelling (the ticket's polling: polling.js). No DOM, no I/O
// (tests/js/booking-calendar.test.mjs).

import { japanToday } from './expr.js';

const WEEKDAYS = { ja: '日月火水木金土', en: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** 'YYYY-MM-DD' (a JST day) -> [year, month, day, weekday (0 = Sunday)]; null when it is not a date. */
export function dateParts(date) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(date || ''));
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return [+m[1], +m[2], +m[3], d.getUTCDay()];
}

/** A day as people read it: 「12月8日（火）」, in English "Tue 8 Dec". */
export function dayName(date, lang = 'ja') {
  const p = dateParts(date);
  if (!p) return String(date || '');
  const [, month, day, wd] = p;
  return lang === 'en' ? `${WEEKDAYS.en[wd]} ${day} ${MONTHS[month - 1]}` : `${month}月${day}日（${WEEKDAYS.ja[wd]}）`;
}

/** '09:00' -> '9:00' (a clock time as written in Japan, JST). */
export function hm(time) { return String(time || '').replace(/^0(\d:)/, '$1'); }

/** A time range as written: 「9:00〜9:30」, in English "9:00–9:30". */
export function timeRange(start, end, lang = 'ja') { return `${hm(start)}${lang === 'en' ? '–' : '〜'}${hm(end)}`; }

/** The day the calendar opens on: the first with a free slot (the server's first_free_day when it is among the
 * days), else the first day shown; null for no days. */
export function openingDay(days, firstFree = null) {
  if (!days || !days.length) return null;
  if (firstFree && days.some((d) => d.date === firstFree && hasFree(d))) return firstFree;
  const free = days.find(hasFree);
  return (free || days[0]).date;
}

export function hasFree(day) { return !day.closed && (day.slots || []).some((s) => s.free); }

/** The strings-booking.js key that says why a day cannot be booked, or null (open: its slots say the rest). The
 * server lists no time already past: today with none left is over (dayOver), not full. */
export function closedKey(day, today = japanToday()) {
  const slots = day.slots || [];
  return { holiday: 'closedHoliday', closed: 'closedCity', no_hours: 'closedNoHours', outside_window: 'closedWindow' }[day.closed]
    || (day.closed ? 'closedNoHours' : slots.some((s) => s.free) ? null : !slots.length && day.date === today ? 'dayOver' : 'dayFull');
}

/** Whole minutes left of a hold (rounded up, never below 0): 「あと 14 分」. */
export function minutesLeft(until, now = Date.now()) {
  const end = new Date(until).getTime();
  if (Number.isNaN(end)) return 0;
  return Math.max(0, Math.ceil((end - now) / 60000));
}

/** A booking code as printed and read out: 'ABCD2345' -> 'ABCD-2345'. */
export function codeText(code) {
  const c = String(code || '').replace(/-/g, '').toUpperCase();
  return c.length === 8 ? `${c.slice(0, 4)}-${c.slice(4)}` : c;
}

/** The JST clock time of a UTC instant, 'H:MM' (a booking's due time on its ticket); '' when not a time. */
export function jstTime(iso) {
  const ms = new Date(iso).getTime();
  if (iso == null || Number.isNaN(ms)) return '';
  return hm(new Date(ms + 9 * 3600000).toISOString().slice(11, 16));
}

/** The date 'YYYY-MM-DD' plus `n` days. */
export function addDays(date, n) {
  const p = dateParts(date);
  return p ? new Date(Date.UTC(p[0], p[1] - 1, p[2] + n)).toISOString().slice(0, 10) : date;
}

/** Bookings still to come (booked or checked in, today JST or later), soonest first. */
export function upcoming(bookings, now = Date.now()) {
  const today = japanToday(now);
  return (bookings || []).filter((b) => (b.status === 'booked' || b.status === 'checked_in') && b.day >= today)
    .sort((a, b) => `${a.day} ${a.start}`.localeCompare(`${b.day} ${b.start}`));
}

/** The bookings to show as coming: the account's (`mine`, from the server) and those booked on this device with
 *  their manage links (`saved`, IndexedDB meta `bookings`, each with its `token`) not already among them. */
export function nextBookings(mine, saved, now = Date.now()) {
  return upcoming([...(mine || []), ...(saved || []).filter((s) => !(mine || []).some((b) => b.id === s.id))], now);
}

/** The app's address of a booking: its manage link when there is a token, else the account's own page. */
export function manageHash(b, token) {
  return token ? `#/v/m/${encodeURIComponent(b.id)}/${encodeURIComponent(token)}` : `#/v/b/${encodeURIComponent(b.id)}`;
}


/** Whether a ticket is still open (the page keeps following it; the home page shows it). */
export function ticketOpen(ticket) { return Boolean(ticket) && ['waiting', 'called', 'serving'].includes(ticket.status); }

/** Whether a booking's ticket still waits for its booked time (「予約の時間（9:30）に合わせてお呼びします」): not once
 * the time has passed — a late booking queues by its arrival (docs/queue.md "Order"), so the sentence would be wrong. */
export function waitsForItsTime(ticket, now = Date.now()) { return Boolean(ticket && ticket.due_at) && Date.parse(ticket.due_at) > now; }
