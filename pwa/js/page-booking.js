// #/v: 来庁の予約. My bookings (a signed-in resident's, and the ones booked on this device without an account), then
// the booking flow on the same page, one step at a time (focus moves to each step's heading): what for (a life
// event or procedures, how many people) → place → the calendar (a list of days opening on the first day with a
// free slot; each time a <button> named with its full date and time) → the slot is held (countdown) → confirm
// (signed in: the account; else a name and a phone number) → done: the booking with its check-in QR, the
// pre-entry invitation (#/e/{event}, #/p/{id}), cancel and move until the cut-off.
// #/v/b/{id}: one booking. #/v/m/{id}/{token}: the secret manage link of a booking made without an account (the
// token is kept on this device and sent as X-Booking-Token). The API: docs/booking.md. Strings: strings-booking.js.

import { t, tx, getLang, addStrings } from './i18n.js';
import { STRINGS } from './strings-booking.js';
import { store } from './db.js';
import { api } from './api.js';
import { el } from './dom.js';
import { jst } from './statuses.js';
import { state, can, link, notFound } from './shell.js';
import { qrImage } from './qr.js';
import { dayName, hm, timeRange, openingDay, hasFree, closedKey, minutesLeft, codeText, addDays, nextBookings, manageHash } from './booking-calendar.js';

addStrings(STRINGS);

const DAYS = 14; // days per calendar page
const enc = encodeURIComponent;

// Bookings made on this device without an account: [{id, token, day, start, place_name}] (the manage links).
async function savedBookings() { return (await store.getMeta('bookings')) || []; }
async function remember(b, token) {
  const list = (await savedBookings()).filter((x) => x.id !== b.id);
  list.push({ id: b.id, token, day: b.day, start: b.start, place_name: b.place_name, status: b.status });
  await store.setMeta('bookings', list.slice(-20));
}
const tokenOf = async (id) => ((await savedBookings()).find((x) => x.id === id) || {}).token || null;

// The bookings last seen, as the server sent them (without the manage secret), per account (or this device's
// without one): shown offline, e.g. the check-in QR at the kiosk where the phone has no signal.
const viewsKey = () => (state.session.signed_in ? `bookingViews:${state.session.account.id}` : 'bookingViews');
async function keepView(b) {
  const { manage_token: _t, manage_url: _u, ...view } = b;
  const list = ((await store.getMeta(viewsKey())) || []).filter((x) => x.id !== b.id);
  await store.setMeta(viewsKey(), [...list, view].slice(-10));
}
const keptViews = async () => (await store.getMeta(viewsKey())) || [];
const headersFor = (token) => (token ? { 'X-Booking-Token': token } : {});

// The API's refusals (docs/booking.md "API") in the resident's words; the server's own detail is for developers.
const PROBLEMS = {
  'slot-taken': 'bkSlotTaken', 'time-past': 'bkSlotPast', 'day-not-bookable': 'bkSlotGone', 'not-a-slot': 'bkSlotGone', 'hold-expired': 'bkHoldExpired',
  'hold-not-yours': 'bkHoldExpired', 'change-cutoff': 'bkCutoff', 'not-changeable': 'bkNoChange', 'name-and-phone-required': 'bkNamePhoneNeeded',
  'too-many-bookings': 'bkTooManyBookings', 'bad-phone': 'bkBadPhone',
};

const problemType = (e) => String((e && e.problem && e.problem.type) || '').split('/').pop();

/** A problem's sentence for the resident: ours by its type, 429s as one, anything else 「うまくいきませんでした」. */
function problemText(e) {
  if (!navigator.onLine || !e || !e.status) return t('bkOffline');
  const key = PROBLEMS[problemType(e)];
  return t(key || (e.status === 429 ? 'bkTooMany' : 'bkFailed'));
}

/** A step's heading (h2, focusable): the flow moves focus to it. */
function stepHeading(text, id = 'step-title') { return el('h2', { id, tabindex: '-1', text }); }
function focusStep(box) { const h = box.querySelector('h2'); if (h) h.focus(); }
const when = (b) => `${dayName(b.day, getLang())} ${timeRange(b.start, b.end, getLang())}`;
const statusText = (s) => t(`bks_${s}`);
const partyText = (n) => t(n === 1 ? 'bkPerson1' : 'bkPeople', { n }); // "1 person", "2 people"


// ------------------------------------------------------------------------------------------ my bookings

function bookingCard(b, token) {
  return el('li', { class: 'card', 'data-booking': b.id },
    link(manageHash(b, token), when(b), 'card-link'),
    el('p', { class: 'meta', text: [tx(b.place_name), statusText(b.status)].filter(Boolean).join('　') }));
}

async function myBookings() {
  let mine = [];
  if (can('booking')) {
    try { mine = (await api('/api/bookings')).bookings || []; } catch { mine = await keptViews(); } // offline: as last seen
  }
  const soon = nextBookings(mine, await savedBookings());
  if (!soon.length) return [];
  return [el('h2', { text: t('bkMine') }),
    el('ul', { class: 'cards', id: 'my-bookings' }, soon.map((b) => bookingCard(b, b.token || null)))];
}

// ------------------------------------------------------------------------------------------ the flow

/** Step 1: what for. A life event (radio) or procedures (checkboxes), and how many people come. */
function whatStep(box, ctx) {
  const { options, places } = ctx;
  const events = options.events || [];
  const procs = options.procedures || [];
  const err = el('p', { class: 'error-text', id: 'what-error', role: 'alert' });
  const evRadios = events.map((e) => el('label', { class: 'choice' },
    el('input', { type: 'radio', name: 'bk-event', value: e.id, checked: ctx.event === e.id }),
    el('span', { text: tx(e.title) + t('bkAbout', { n: e.minutes }) })));
  const procChecks = procs.map((p) => el('label', { class: 'choice' },
    el('input', { type: 'checkbox', name: 'bk-proc', value: p.id, checked: !ctx.event && ctx.procedures.includes(p.id) }),
    el('span', { text: tx(p.title) + t('bkAbout', { n: p.minutes }) })));
  // One or the other: choosing a life event clears the procedures and the other way round.
  box.addEventListener('change', (e) => {
    if (e.target.name === 'bk-event') for (const c of box.querySelectorAll('input[name=bk-proc]')) c.checked = false;
    if (e.target.name === 'bk-proc' && e.target.checked) for (const r of box.querySelectorAll('input[name=bk-event]')) r.checked = false;
  });
  const party = el('select', { id: 'bk-party' });
  for (let n = 1; n <= (places.max_party || 1); n++) party.append(el('option', { value: String(n), text: partyText(n), selected: n === ctx.party }));
  const next = el('button', { type: 'submit', class: 'btn', id: 'what-next', text: t('bkNext') });
  const form = el('form', { id: 'bk-what', novalidate: true },
    events.length ? el('fieldset', { class: 'field' }, el('legend', { text: t('bkByEvent') }), el('div', { class: 'choices' }, evRadios)) : null,
    el('fieldset', { class: 'field' }, el('legend', { text: t('bkByProcedure') }), el('div', { class: 'choices' }, procChecks)),
    el('div', { class: 'field' }, el('label', { for: 'bk-party', text: t('bkParty') }), el('p', { class: 'hint', text: t('bkPartyHint') }), party),
    err, el('div', { class: 'actions' }, next));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const ev = box.querySelector('input[name=bk-event]:checked');
    ctx.event = ev ? ev.value : null;
    ctx.procedures = ev ? [] : [...box.querySelectorAll('input[name=bk-proc]:checked')].map((c) => c.value);
    ctx.party = Number(party.value) || 1;
    if (!ctx.event && !ctx.procedures.length) { err.textContent = t('bkChooseWhat'); return; }
    placeStep(box, ctx);
  });
  box.replaceChildren(stepHeading(t('bkWhatTitle')), el('p', { class: 'hint', text: t('bkWhatHint') }), form);
}

/** Step 2: the place. */
function placeStep(box, ctx) {
  const list = ctx.places.places || [];
  if (!ctx.place && list.length) ctx.place = list[0].id;
  const radios = list.map((p) => el('label', { class: 'choice' },
    el('input', { type: 'radio', name: 'bk-place', value: p.id, checked: p.id === ctx.place }),
    el('span', {}, tx(p.name), p.address ? el('span', { class: 'meta', text: `　${p.address}` }) : null)));
  const form = el('form', { id: 'bk-place', novalidate: true },
    el('fieldset', { class: 'field' }, el('legend', { class: 'visually-hidden', text: t('bkPlaceTitle') }), el('div', { class: 'choices' }, radios)),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn', id: 'place-next', text: t('bkNext') }),
      el('button', { type: 'button', class: 'btn-link', text: t('bkBack'), onclick: () => { whatStep(box, ctx); focusStep(box); } })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = box.querySelector('input[name=bk-place]:checked');
    if (!p) return;
    ctx.place = p.value;
    ctx.from = null;
    calendarStep(box, ctx, '', { jump: true });
  });
  box.replaceChildren(stepHeading(t('bkPlaceTitle')), form);
  focusStep(box);
}

function slotsQuery(ctx) {
  const q = new URLSearchParams({ place: ctx.place, party: String(ctx.party), days: String(DAYS) });
  if (ctx.event) q.set('event', ctx.event); else q.set('procedures', ctx.procedures.join(','));
  if (ctx.from) q.set('from', ctx.from);
  if (ctx.moving) q.set('moves', ctx.moving.id); // the booking's own time counts as free for its move
  return q;
}

/** Step 3: the calendar. Days as buttons (closed ones say why), the chosen day's times as buttons. `jump`: when the
 * first day with a free slot (the server looks over the whole window) is after the days fetched, the calendar opens
 * on it (fetched from there); `day`: the day to show again (the one the resident had chosen, e.g. after 埋まりました). */
async function calendarStep(box, ctx, note = '', { jump = false, day: keep = null } = {}) {
  const h2 = stepHeading(t('bkWhenTitle'));
  const status = el('p', { id: 'cal-status', role: 'status' });
  box.replaceChildren(h2, status);
  focusStep(box);
  let cal;
  try { cal = await api(`/api/booking/slots?${slotsQuery(ctx)}`, { headers: headersFor(ctx.token) }); } catch (e) { status.textContent = problemText(e); return; }
  const lang = getLang();
  const days = cal.days || [];
  if (jump && cal.first_free_day && days.length && cal.first_free_day > days[days.length - 1].date) {
    ctx.from = cal.first_free_day;
    calendarStep(box, ctx, t('bkFirstFree', { day: dayName(cal.first_free_day, lang) }));
    return;
  }
  let chosen = keep && days.some((d) => d.date === keep) ? keep : openingDay(days, cal.first_free_day);
  const dayList = el('ul', { class: 'days', id: 'cal-days' });
  const times = el('div', { id: 'cal-times' });
  const drawTimes = () => {
    const day = days.find((d) => d.date === chosen);
    for (const b of dayList.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.date === chosen));
    if (!day || !hasFree(day)) { times.replaceChildren(el('p', { text: t('bkNoFree') })); return; }
    const name = dayName(day.date, lang);
    times.replaceChildren(el('h3', { id: 'times-title', text: t('bkTimesOf', { day: name }) }),
      el('ul', { class: 'slots', 'aria-labelledby': 'times-title' }, day.slots.map((s) => {
        const range = timeRange(s.start, s.end, lang);
        if (!s.free) return el('li', {}, el('span', { class: 'slot-full', text: `${range} ${t('bkFull')}` }));
        // The accessible name is the whole date and time (「12月8日（火）9:00〜9:30 予約できます」), holding the
        // time printed on the button; the day is printed once above.
        const b = el('button', { type: 'button', class: 'btn btn-secondary btn-small slot', 'data-start': s.start,
          'aria-label': t('bkSlotName', { day: name, range }), text: range });
        b.addEventListener('click', () => holdStep(box, ctx, day, s, b));
        return el('li', {}, b);
      })));
  };
  for (const d of days) {
    const key = closedKey(d);
    const name = dayName(d.date, lang);
    if (hasFree(d)) {
      const b = el('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-date': d.date, 'aria-pressed': 'false', text: name });
      b.addEventListener('click', () => { chosen = d.date; drawTimes(); const h = document.getElementById('times-title'); if (h) { h.tabIndex = -1; h.focus(); } });
      dayList.append(el('li', {}, b));
    } else {
      const why = key === 'closedHoliday' ? t(key, { name: tx(d.holiday_name) }) : t(key || 'dayFull');
      dayList.append(el('li', { class: 'meta' }, `${name}　${why}`));
    }
  }
  const last = days.length ? days[days.length - 1].date : null;
  const later = el('button', { type: 'button', class: 'btn-link', id: 'cal-later', text: t('bkLater') });
  later.addEventListener('click', () => { ctx.from = addDays(last, 1); calendarStep(box, ctx); });
  const earlier = ctx.from ? el('button', { type: 'button', class: 'btn-link', text: t('bkEarlier'), onclick: () => { ctx.from = null; calendarStep(box, ctx); } }) : null;
  status.textContent = note || (cal.first_free_day ? '' : t('bkNoneInWindow'));
  box.append(el('p', { class: 'hint', id: 'cal-minutes', text: t('bkLength', { n: cal.minutes }) }),
    el('h3', { text: t('bkDays') }), dayList, times,
    el('div', { class: 'actions' }, earlier, last ? later : null,
      el('button', { type: 'button', class: 'btn-link', text: t('bkBack'), onclick: () => (ctx.moving ? ctx.back() : placeStep(box, ctx)) })));
  drawTimes();
}

/** The slot is chosen: hold it (15 minutes), then confirm. */
async function holdStep(box, ctx, day, slot, button) {
  button.disabled = true;
  let hold;
  try {
    hold = await api('/api/bookings/holds', { method: 'POST', body: { place: ctx.place, day: day.date, start: slot.start, procedures: ctx.procedures, event: ctx.event, party: ctx.party, moves: ctx.moving ? ctx.moving.id : undefined }, headers: headersFor(ctx.token) });
  } catch (e) {
    button.disabled = false;
    // Taken meanwhile: the calendar again, as it is now, on the same day, saying so.
    if (e.status === 409 || e.status === 422) calendarStep(box, ctx, problemText(e), { day: day.date });
    else box.querySelector('#cal-times').prepend(el('p', { class: 'error-text', role: 'alert', text: problemText(e) }));
    return;
  }
  confirmStep(box, ctx, hold);
}

/** Step 4: confirm. The hold's countdown; signed in: the account books; else a name and a phone number. */
function confirmStep(box, ctx, hold) {
  const left = el('p', { class: 'notice', id: 'hold-left', role: 'status' });
  const tick = () => {
    const n = minutesLeft(hold.held_until);
    left.textContent = n > 0 ? t('bkHeld', { n }) : t('bkHoldExpired');
    if (n <= 0 || !box.isConnected) clearInterval(timer);
  };
  const timer = setInterval(tick, 15000);
  tick();
  const err = el('p', { class: 'error-text', id: 'confirm-error', role: 'alert' });
  const asAccount = can('booking');
  const fields = [];
  let name = null;
  let phone = null;
  const phoneErr = el('p', { class: 'error-text', id: 'bk-phone-error' });
  if (!ctx.moving && !asAccount) {
    name = el('input', { id: 'bk-name', type: 'text', autocomplete: 'name', required: true, maxlength: '100', 'aria-describedby': 'bk-name-hint' });
    // As typed (full-width digits, hyphens, brackets): the server's one phone rule judges it (server/booking/phone.py).
    phone = el('input', { id: 'bk-phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: true, maxlength: '30', 'aria-describedby': 'bk-phone-hint' });
    fields.push(el('p', {}, t('bkAnonHint'), ' ', link('#/signin', t('bkSignin'))),
      el('div', { class: 'field' }, el('label', { for: 'bk-name', text: t('bkName') }), el('p', { class: 'hint', id: 'bk-name-hint', text: t('bkNameHint') }), name),
      el('div', { class: 'field' }, el('label', { for: 'bk-phone', text: t('bkPhone') }), el('p', { class: 'hint', id: 'bk-phone-hint', text: t('bkPhoneHint') }), phoneErr, phone));
  }
  // Family bookings: the others' names help the desk prepare (optional; the server takes party − 1 at most).
  const others = !ctx.moving && ctx.party > 1 ? Array.from({ length: ctx.party - 1 }, (_, i) => el('input', {
    id: `bk-person-${i + 2}`, type: 'text', autocomplete: 'off', maxlength: '100' })) : [];
  if (others.length) {
    fields.push(el('fieldset', { class: 'field', id: 'bk-people' }, el('legend', { text: t('bkOthers') }),
      ...others.map((input, i) => el('div', { class: 'field' }, el('label', { for: input.id, text: t('bkPersonN', { n: i + 2 }) }), input))));
  }
  const chosen = ctx.event ? (ctx.options.events || []).filter((e) => e.id === ctx.event) : (ctx.options.procedures || []).filter((p) => ctx.procedures.includes(p.id));
  const place = (ctx.places.places || []).find((p) => p.id === ctx.place);
  const ok = el('button', { type: 'submit', class: 'btn', id: 'bk-confirm', text: ctx.moving ? t('bkMoveConfirm') : t('bkConfirm') });
  // Already past the residents' cut-off (the hold's may_change, the server's clock): said before 予約する, not after.
  const fixed = hold.may_change === false ? el('p', { class: 'notice', id: 'bk-no-change', text: t('bkFixedOnce') }) : null;
  if (fixed) ok.setAttribute('aria-describedby', 'bk-no-change');
  const form = el('form', { id: 'bk-form', novalidate: true }, ...fields, fixed, err,
    el('div', { class: 'actions' }, ok, el('button', { type: 'button', class: 'btn-link', text: t('bkOtherTime'), onclick: () => calendarStep(box, ctx) })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    phoneErr.textContent = '';
    if (phone) { phone.removeAttribute('aria-invalid'); phone.setAttribute('aria-describedby', 'bk-phone-hint'); }
    if (name && (!name.value.trim() || !phone.value.trim())) {
      err.textContent = t('bkNamePhoneNeeded');
      (name.value.trim() ? phone : name).focus();
      return;
    }
    ok.disabled = true;
    try {
      let b;
      if (ctx.moving) b = await api(`/api/bookings/${enc(ctx.moving.id)}/move`, { method: 'POST', body: { hold_id: hold.hold_id }, headers: headersFor(ctx.token) });
      else {
        const people = others.map((x) => x.value.trim()).filter(Boolean);
        b = await api('/api/bookings', { method: 'POST', body: { hold_id: hold.hold_id, lang: getLang(), ...(people.length ? { people } : {}),
          ...(name ? { name: name.value.trim(), phone: phone.value.trim() } : {}) } });
      }
      clearInterval(timer);
      const token = b.manage_token || ctx.token || null;
      if (token) await remember(b, token);
      doneStep(box, b, token, ctx.moving ? 'bkMoved' : 'bkBooked');
    } catch (x) {
      ok.disabled = false;
      if (phone && problemType(x) === 'bad-phone') {
        // Said on the field itself, which keeps what was typed.
        phoneErr.textContent = t('bkBadPhone');
        phone.setAttribute('aria-invalid', 'true');
        phone.setAttribute('aria-describedby', 'bk-phone-error bk-phone-hint');
        phone.focus();
        return;
      }
      err.textContent = problemText(x);
    }
  });
  box.replaceChildren(stepHeading(t('bkConfirmTitle')), left,
    el('dl', { class: 'summary' },
      el('dt', { text: t('bkWhen') }), el('dd', { id: 'bk-when', text: when({ day: hold.day, start: hold.start, end: hold.end }) }),
      el('dt', { text: t('bkWhere') }), el('dd', { text: place ? tx(place.name) : ctx.place }),
      el('dt', { text: t('bkFor') }), el('dd', { text: chosen.map((c) => tx(c.title)).join('、') }),
      el('dt', { text: t('bkParty') }), el('dd', { text: partyText(ctx.party) })),
    form);
  focusStep(box);
}

/** Done (or a booking opened later): the booking with its QR, the pre-entry invitation, cancel and move. */
function doneStep(box, b, token, notice) {
  keepView(b).catch(() => {});
  box.replaceChildren(stepHeading(t(notice)), ...bookingBody(box, b, token));
  focusStep(box);
}

// `sub`: the level of the sections' headings: h3 under a step's h2, h2 on the booking's own page (right under its h1).
function bookingBody(box, b, token, sub = 'h3') {
  const lang = getLang();
  const live = b.status === 'booked' || b.status === 'checked_in';
  const out = [];
  if (b.manage_token) {
    const url = `${location.origin}/${manageHash(b, b.manage_token)}`;
    out.push(el('div', { class: 'notice warning', id: 'manage-link' }, el('p', { text: t('bkKeepLink') }),
      el('p', {}, el('a', { href: manageHash(b, b.manage_token), id: 'manage-url', text: url }))));
  }
  out.push(el('dl', { class: 'summary', id: 'booking' },
    el('dt', { text: t('bkCode') }), el('dd', { class: 'counter-code', id: 'bk-code', text: codeText(b.code) }),
    el('dt', { text: t('bkWhen') }), el('dd', { id: 'bk-when', text: when(b) }),
    el('dt', { text: t('bkWhere') }), el('dd', { text: tx(b.place_name) || b.place }),
    el('dt', { text: t('bkFor') }), el('dd', { text: (b.procedures || []).map((p) => tx(p.title) || p.id).join('、') }),
    el('dt', { text: t('bkParty') }), el('dd', { text: partyText(b.party || 1) }),
    b.name ? el('dt', { text: t('bkName') }) : null, b.name ? el('dd', { text: b.name }) : null,
    b.people && b.people.length ? el('dt', { text: t('bkOthers') }) : null, b.people && b.people.length ? el('dd', { id: 'bk-people-list', text: b.people.join('、') }) : null,
    el('dt', { text: t('bkStatus') }), el('dd', { id: 'bk-status', text: statusText(b.status) })));
  // Checked in: the ticket's page when the server gave its link, else its number.
  if (b.ticket && b.ticket.token) out.push(el('p', {}, link(`#/q/${enc(b.ticket.token)}`, t('bkTicket', { no: b.ticket.number }), 'btn')));
  else if (b.ticket) out.push(el('p', { class: 'ticket-ahead', id: 'bk-ticket', text: t('homeTicket', { no: b.ticket.number }) }));
  if (b.status === 'booked') {
    const qr = qrImage(b.qr, t('bkQr', { code: codeText(b.code) }));
    if (qr) out.push(el('div', { class: 'qr-box' }, qr, el('p', { class: 'hint', text: t('bkQrHint') })));
  }
  if (live) {
    // The pre-entry invitation (issue 15 §2): what is filled in before coming is on the counter's list tomorrow.
    const targets = b.event ? [{ href: `#/e/${enc(b.event)}`, title: t('bkFillEvent') }]
      : (b.procedures || []).map((p) => ({ href: `#/p/${enc(p.id)}`, title: t('bkFillOne', { title: tx(p.title) || p.id }) }));
    out.push(el('section', { class: 'notice', id: 'preentry', 'aria-labelledby': 'preentry-title' },
      el(sub, { id: 'preentry-title', text: t('bkPreentry') }),
      el('p', { class: 'hint', text: t('bkPreentryHint') }),
      el('ul', {}, targets.map((x) => el('li', {}, link(x.href, x.title))))));
  }
  if (b.status === 'booked') {
    if (b.may_change) {
      out.push(el('p', { class: 'hint', id: 'bk-until', text: t('bkChangeUntil', { until: jst(b.change_until, lang) }) }));
      const msg = el('p', { class: 'error-text', role: 'alert' });
      const cancel = el('button', { type: 'button', class: 'btn btn-secondary', id: 'bk-cancel', text: t('bkCancel') });
      const move = el('button', { type: 'button', class: 'btn btn-secondary', id: 'bk-move', text: t('bkMove') });
      const sure = el('div', { id: 'cancel-sure', hidden: true }, el('p', { text: t('bkCancelSure') }));
      const yes = el('button', { type: 'button', class: 'btn', id: 'bk-cancel-yes', text: t('bkCancelYes') });
      const no = el('button', { type: 'button', class: 'btn-link', text: t('bkCancelNo') });
      sure.append(el('div', { class: 'actions' }, yes, no));
      cancel.addEventListener('click', () => { sure.hidden = false; yes.focus(); });
      no.addEventListener('click', () => { sure.hidden = true; cancel.focus(); });
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        try {
          const done = await api(`/api/bookings/${enc(b.id)}/cancel`, { method: 'POST', headers: headersFor(token) });
          if (token) await remember(done, token);
          doneStep(box, done, token, 'bkCancelled');
        } catch (e) { yes.disabled = false; msg.textContent = problemText(e); }
      });
      move.addEventListener('click', () => startMove(box, b, token));
      out.push(el('div', { class: 'actions' }, move, cancel), sure, msg);
    } else out.push(el('p', { class: 'hint', text: t('bkNoChange') }));
  }
  out.push(el('p', {}, link('#/v', t('bkToList'), 'btn-link')));
  return out;
}

async function flowContext() {
  const [places, options] = await Promise.all([api('/api/booking/places'), api('/api/booking/options')]);
  return { places, options, event: null, procedures: [], party: 1, place: null, from: null };
}

async function startMove(box, b, token) {
  let ctx;
  try { ctx = await flowContext(); } catch (e) { box.append(el('p', { class: 'error-text', role: 'alert', text: problemText(e) })); return; }
  Object.assign(ctx, { event: b.event || null, procedures: b.event ? [] : (b.procedures || []).map((p) => p.id), party: b.party || 1,
    place: b.place, moving: b, token, back: () => doneStep(box, b, token, 'bkOneTitle') });
  calendarStep(box, ctx, '', { jump: true });
}

// ------------------------------------------------------------------------------------------ pages

async function bookingPage(view, id, token) {
  const { main } = view;
  view.setPage(t('bkOneTitle'));
  let b;
  try { b = await api(`/api/bookings/${enc(id)}`, { headers: headersFor(token) }); } catch (e) {
    const kept = e.status === 404 ? null : (await keptViews()).find((x) => x.id === id);
    if (kept) {
      // Offline: the booking as last seen (its QR still checks in); no change can be made from here.
      main.append(el('p', { class: 'notice warning', id: 'bk-offline', text: t('bkKept') }), ...bookingBody(main, { ...kept, may_change: false }, null, 'h2'));
      return;
    }
    main.append(el('p', { class: 'error-text', role: 'alert', text: e.status === 404 ? t('bkNotFound') : problemText(e) }),
      el('p', {}, link('#/v', t('bkToList'), 'btn-link')));
    return;
  }
  if (token) await remember(b, token);
  await keepView(b);
  const box = el('div', { id: 'bk-flow' });
  box.append(...bookingBody(box, b, token, 'h2'));
  main.append(box);
}

export async function render(view, params) {
  const { a, id, token } = params;
  if (a === 'b' && id && !token) return bookingPage(view, id, await tokenOf(id));
  if (a === 'm' && id && token) return bookingPage(view, id, token);
  if (a) return notFound(view);
  const { main } = view;
  view.setPage(t('bkTitle'));
  main.append(...await myBookings());
  const box = el('div', { id: 'bk-flow' });
  main.append(box);
  if (state.session.signed_in && !can('booking')) {
    // Staff take a resident's booking at the desk (the console's 電話予約), not as themselves here.
    box.append(el('p', { class: 'notice', text: t('bkResidentsOnly') }), can('queue_desk') ? el('p', {}, link('/console/bookings/new', t('bkDesk'), 'btn')) : null);
    return;
  }
  let ctx;
  try { ctx = await flowContext(); } catch (e) { box.append(el('p', { class: 'error-text', role: 'alert', text: problemText(e) })); return; }
  if (can('booking')) box.after(walkIn(ctx.places.places || []));
  whatStep(box, ctx);
}

/** 「予約なしで番号札を取る」: a signed-in resident at (or on the way to) the counter draws a walk-in ticket. One open
 * ticket a day: a second press opens the first (409 ticket-open names it). */
function walkIn(places) {
  const sel = el('select', { id: 'walkin-place' }, places.map((p) => el('option', { value: p.id, text: tx(p.name) })));
  const msg = el('p', { class: 'error-text', id: 'walkin-error', role: 'alert' });
  const go = el('button', { type: 'button', class: 'btn btn-secondary', id: 'walkin-draw', text: t('bkWalkIn') });
  go.addEventListener('click', async () => {
    go.disabled = true;
    msg.textContent = '';
    try {
      const tk = await api(`/api/queue/${enc(sel.value)}/tickets`, { method: 'POST', body: { lang: getLang() } });
      location.hash = `#/q/${enc(tk.token)}`;
    } catch (e) {
      go.disabled = false;
      if (e.problem && e.problem.token) location.hash = `#/q/${enc(e.problem.token)}`;
      else if (problemType(e) === 'place-closed' && e.problem.opens) {
        const o = e.problem.opens;
        msg.textContent = t('bkPlaceClosed', { when: `${dayName(o.day, getLang())} ${hm(o.start)}` });
      } else if (problemType(e) === 'place-closed') msg.textContent = t('bkPlaceClosedNoDay');
      else msg.textContent = problemText(e);
    }
  });
  return el('section', { id: 'walkin', 'aria-labelledby': 'walkin-title' },
    el('h2', { id: 'walkin-title', text: t('bkWalkInTitle') }), el('p', { class: 'hint', text: t('bkWalkInHint') }),
    places.length > 1 ? el('div', { class: 'field' }, el('label', { for: 'walkin-place', text: t('bkWhere') }), sel) : null,
    el('div', { class: 'actions' }, go), msg);
}
