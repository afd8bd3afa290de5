// The booking calendar's and the ticket page's pure parts (pwa/js/booking-calendar.js): days and times as people
// read them in JST, the day the calendar opens on, why a day is closed, the hold's countdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dateParts, dayName, hm, openingDay, hasFree, closedKey, minutesLeft, codeText, addDays, upcoming, ticketOpen, jstTime, timeRange, waitsForItsTime, nextBookings, manageHash,
} from '../../pwa/js/booking-calendar.js';
import { japanToday } from '../../pwa/js/expr.js';

const slot = (start, end, free) => ({ start, end, free });

test('a day reads as people write it, with the weekday computed from the date', () => {
  assert.equal(dayName('2026-12-08', 'ja'), '12月8日（火）');
  assert.equal(dayName('2026-12-08', 'ja-easy'), '12月8日（火）');
  assert.equal(dayName('2026-12-08', 'en'), 'Tue 8 Dec');
  assert.equal(dayName('2027-01-11', 'ja'), '1月11日（月）');
  assert.equal(dayName('2024-02-29', 'en'), 'Thu 29 Feb');
  assert.equal(dayName('nonsense'), 'nonsense');
  assert.equal(dateParts('2026-13-01')[1], 13, 'parts are read, not checked against a calendar');
  assert.equal(dateParts('2026-1-01'), null);
  assert.equal(hm('09:00'), '9:00');
  assert.equal(hm('10:30'), '10:30');
  assert.equal(timeRange('09:00', '09:30'), '9:00〜9:30');
  assert.equal(timeRange('09:45', '10:15', 'en'), '9:45–10:15');
});

test('the calendar opens on the first day with a free slot, never on a closed or full one', () => {
  const days = [
    { date: '2026-12-07', closed: 'outside_window', slots: [] },
    { date: '2026-12-08', closed: null, slots: [slot('09:00', '09:30', false)] },
    { date: '2026-12-09', closed: 'holiday', slots: [slot('09:00', '09:30', true)] },
    { date: '2026-12-10', closed: null, slots: [slot('09:00', '09:30', false), slot('09:30', '10:00', true)] },
  ];
  assert.equal(openingDay(days), '2026-12-10');
  assert.equal(openingDay(days, '2026-12-10'), '2026-12-10');
  assert.equal(openingDay(days, '2026-12-08'), '2026-12-10', 'a first_free_day that is full here is not trusted');
  assert.equal(openingDay(days.slice(0, 2)), '2026-12-07', 'no free day: the first day shown');
  assert.equal(openingDay([]), null);
  assert.equal(hasFree(days[2]), false, 'a closed day has no bookable slot whatever its slots say');
});

test('a closed day says why; an open day with no free slot is full', () => {
  assert.equal(closedKey({ closed: 'holiday' }), 'closedHoliday');
  assert.equal(closedKey({ closed: 'closed' }), 'closedCity');
  assert.equal(closedKey({ closed: 'no_hours' }), 'closedNoHours');
  assert.equal(closedKey({ closed: 'outside_window' }), 'closedWindow');
  assert.equal(closedKey({ closed: null, slots: [slot('09:00', '09:15', false)] }), 'dayFull');
  assert.equal(closedKey({ closed: null, slots: [slot('09:00', '09:15', true)] }), null);
  // the server lists no time already past: today with none left is over, another day without times full
  assert.equal(closedKey({ date: '2026-12-07', closed: null, slots: [] }, '2026-12-07'), 'dayOver');
  assert.equal(closedKey({ date: '2026-12-08', closed: null, slots: [] }, '2026-12-07'), 'dayFull');
  assert.equal(closedKey({ date: '2026-12-07', closed: null, slots: [slot('16:45', '17:00', false)] }, '2026-12-07'), 'dayFull');
});

test('the hold counts down in whole minutes, rounded up, never below zero', () => {
  const now = Date.parse('2026-12-07T00:00:00Z');
  assert.equal(minutesLeft('2026-12-07T00:15:00Z', now), 15);
  assert.equal(minutesLeft('2026-12-07T00:14:01Z', now), 15);
  assert.equal(minutesLeft('2026-12-07T00:14:00Z', now), 14);
  assert.equal(minutesLeft('2026-12-06T23:59:00Z', now), 0);
  assert.equal(minutesLeft('garbage', now), 0);
});

test('a booking code is printed in two groups of four, whatever way it was typed', () => {
  assert.equal(codeText('ABCD2345'), 'ABCD-2345');
  assert.equal(codeText('abcd-2345'), 'ABCD-2345');
  assert.equal(codeText('A-034'), 'A034', 'not a booking code: only the dashes go');
});

test('days are JST: 23:30 UTC is already tomorrow in Japan', () => {
  assert.equal(japanToday(Date.parse('2026-12-07T14:59:00Z')), '2026-12-07');
  assert.equal(japanToday(Date.parse('2026-12-07T15:00:00Z')), '2026-12-08');
  assert.equal(jstTime('2026-12-08T00:30:00Z'), '9:30');
  assert.equal(jstTime('2026-12-08T14:05:00+00:00'), '23:05');
  assert.equal(jstTime(null), '');
  assert.equal(addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(addDays('2027-03-01', -1), '2027-02-28');
});

test('upcoming bookings: booked or checked in, from today on, soonest first', () => {
  const now = Date.parse('2026-12-07T01:00:00Z'); // 10:00 JST
  const list = [
    { id: 'a', day: '2026-12-09', start: '10:00', status: 'booked' },
    { id: 'b', day: '2026-12-08', start: '14:00', status: 'booked' },
    { id: 'c', day: '2026-12-08', start: '09:00', status: 'cancelled' },
    { id: 'd', day: '2026-12-06', start: '09:00', status: 'booked' },
    { id: 'e', day: '2026-12-07', start: '09:00', status: 'checked_in' },
  ];
  assert.deepEqual(upcoming(list, now).map((b) => b.id), ['e', 'b', 'a']);
  assert.deepEqual(upcoming(null, now), []);
});

test('the bookings to come: the account\'s and this device\'s manage links, each once, with the right address', () => {
  const now = Date.parse('2026-12-07T01:00:00Z');
  const mine = [{ id: 'a', day: '2026-12-09', start: '10:00', status: 'booked' }];
  const saved = [
    { id: 'a', token: 'old', day: '2026-12-09', start: '10:00', status: 'booked' }, // also the account's: once
    { id: 'x/y', token: 't k', day: '2026-12-08', start: '09:00', status: 'booked' },
    { id: 'z', token: 'gone', day: '2026-12-01', start: '09:00', status: 'booked' }, // past
  ];
  const next = nextBookings(mine, saved, now);
  assert.deepEqual(next.map((b) => b.id), ['x/y', 'a']);
  assert.deepEqual(next.map((b) => manageHash(b, b.token)), ['#/v/m/x%2Fy/t%20k', '#/v/b/a']);
  assert.deepEqual(nextBookings(null, null, now), []);
});

test('a ticket is followed while waiting, called or being served', () => {
  for (const s of ['waiting', 'called', 'serving']) assert.ok(ticketOpen({ status: s }), s);
  for (const s of ['done', 'left', 'no_show']) assert.ok(!ticketOpen({ status: s }), s);
  assert.ok(!ticketOpen(null));
});

test('a booking waits for its time only while that time is ahead (late, it queues by arrival)', () => {
  const now = Date.parse('2026-12-08T00:30:00Z'); // 9:30 JST
  assert.ok(waitsForItsTime({ due_at: '2026-12-08T00:45:00+00:00' }, now));
  assert.ok(!waitsForItsTime({ due_at: '2026-12-08T00:15:00+00:00' }, now));
  assert.ok(!waitsForItsTime({ due_at: '2026-12-08T00:30:00+00:00' }, now));
  assert.ok(!waitsForItsTime({ due_at: null }, now)); // a walk-in
  assert.ok(!waitsForItsTime(null, now));
});
