// Household records for outreach (and counter) staff: shared records that sync (docs/sync.md) and can be
// edited offline during a home visit. A household record (address, address notes, contact log) and one
// resident record per member (name and date of birth: `review` fields a person confirms on a clash; phone:
// `auto`). Every save is one `record.patch` per changed record, with the values shown when the page was
// drawn as the base; the contact log is an `append` field (entries never clash). Outreach workers get the
// households of the residents assigned to them by pull; counter staff every household that has a record.

import { t, getLang } from './i18n.js';
import { el } from './dom.js';
import { recordsOfType, enqueue } from './sync.js';
import { same, reviewConflicts } from './syncstate.js';
import { jst } from './statuses.js';

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const nameText = (n) => (n && typeof n === 'object' ? [n.family, n.given].filter(Boolean).join(' ') : n || '');

function householdName(h) {
  return t('householdTitle', { name: nameText(h.data.head_name) || h.id });
}

function stateBadges(rec) {
  const out = [];
  if (rec.pending.length) out.push(el('span', { class: 'badge', text: t('item_waiting') }));
  if (rec.review.length) out.push(el('span', { class: 'badge badge-warn', text: t('item_needs_review') }));
  return out;
}

export async function householdListPage(ui) {
  ui.setPage(t('households'));
  const [list, residents] = await Promise.all([recordsOfType(ui.store, 'household'), recordsOfType(ui.store, 'resident')]);
  if (!list.length) ui.main.append(el('p', { text: t('householdsEmpty') }));
  else {
    ui.main.append(el('ul', { class: 'cards', id: 'households' }, list.sort((a, b) => a.id.localeCompare(b.id)).map((h) => {
      const members = residents.filter((r) => r.data.household_id === h.id);
      const badges = stateBadges({ pending: [...h.pending, ...members.flatMap((m) => m.pending)], review: [...h.review, ...members.flatMap((m) => m.review)] });
      return el('li', { class: 'card' }, ui.link(`#/h/${encodeURIComponent(h.id)}`, householdName(h), 'card-link'),
        el('p', { class: 'meta', text: h.data.address || '' }), badges.length ? el('p', {}, ...badges) : null);
    })));
  }
  ui.onPulled((types) => { if ((types.has('household') || types.has('resident')) && location.hash === '#/h') ui.route(false); });
}

// The server refuses values of another shape (docs/sync.md, record table): short texts (names, phone) at
// most 200 characters, addresses and notes 10 000, a date of birth YYYY-MM-DD or YYYY-MM.
const SHORT = 200;
const LONG = 10000;

/** A date of birth the server takes: a real calendar date YYYY-MM-DD, or YYYY-MM when the day is unknown. */
export function validBirthDate(v) {
  const m = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(v);
  if (!m || +m[1] < 1 || +m[2] < 1 || +m[2] > 12) return false;
  if (m[3] === undefined) return true;
  const d = new Date(0);
  d.setUTCFullYear(+m[1], +m[2] - 1, +m[3]); // setUTCFullYear: years below 100 stay as written
  return d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

function field(id, label, value, { hint = null, type = 'text', multiline = false, autocomplete = 'off', max = SHORT } = {}) {
  const attrs = { id, name: id, value: value ?? '', autocomplete, maxlength: String(max) };
  if (hint) attrs['aria-describedby'] = `${id}-hint`;
  const input = multiline ? el('textarea', { ...attrs, rows: '3', text: value ?? '' }) : el('input', { ...attrs, type });
  if (type === 'tel') input.setAttribute('inputmode', 'tel');
  return { input, node: el('div', { class: 'field' }, el('label', { for: id, text: label }), hint ? el('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null, input) };
}

/** What the device still waits for on one field: "waiting" or the review conflict (mine vs server). */
function fieldNotes(ui, rec, name) {
  const out = [];
  for (const e of rec.review) {
    for (const c of reviewConflicts(e)) {
      if (c.field === name) out.push(el('p', { class: 'notice review-note', text: t('reviewField', { field: t(`field_${name}`), mine: ui.showValue(c.mine), server: ui.showValue(c.server) }) }));
    }
  }
  return out;
}

export async function householdPage(ui, id) {
  const [households, residents] = await Promise.all([recordsOfType(ui.store, 'household'), recordsOfType(ui.store, 'resident')]);
  const h = households.find((x) => x.id === id);
  if (!h) {
    ui.setPage(t('notFound'));
    ui.main.append(el('p', {}, ui.link('#/h', t('households'))));
    return;
  }
  const order = (h.data.members || []).map((m) => m.id);
  const members = residents.filter((r) => r.data.household_id === id || order.includes(r.id))
    .sort((a, b) => (order.indexOf(a.id) + 1 || 99) - (order.indexOf(b.id) + 1 || 99));
  ui.setPage(householdName(h));
  // The values on screen now are the base of the next save ("the value the user saw").
  const seenH = clone(h.data);
  const seenM = new Map(members.map((m) => [m.id, clone(m.data)]));
  const pending = [h, ...members].some((r) => r.pending.length);
  const review = [h, ...members].some((r) => r.review.length);
  if (pending) ui.main.append(el('p', { class: 'notice', id: 'h-pending', text: t('pendingChanges') }));
  if (review) ui.main.append(el('p', { class: 'notice', id: 'h-review', text: t('reviewWaitText') }));

  const form = el('form', { novalidate: true, id: 'household-form' });
  const address = field('h-address', t('field_address'), h.data.address, { max: LONG });
  const notes = field('h-address_notes', t('field_address_notes'), h.data.address_notes, { multiline: true, max: LONG });
  form.append(el('h2', { text: t('householdSection') }), address.node, ...fieldNotes(ui, h, 'address'), notes.node);
  form.append(el('h2', { text: t('members') }), el('p', { class: 'hint', id: 'review-hint', text: t('reviewFieldHint') }));
  const inputs = new Map();
  for (const m of members) {
    const d = m.data;
    const rel = d.relationship ? `（${d.relationship}）` : '';
    const fs = el('fieldset', { class: 'field member', 'data-resident': m.id }, el('legend', { text: `${nameText(d.name) || m.id}${rel}` }));
    const family = field(`m-${m.id}-family`, t('family'), d.name && d.name.family, { autocomplete: 'off' });
    const given = field(`m-${m.id}-given`, t('given'), d.name && d.name.given, { autocomplete: 'off' });
    const birth = field(`m-${m.id}-birth_date`, t('field_birth_date'), d.birth_date, { hint: t('birthHint') });
    const phone = field(`m-${m.id}-phone`, t('field_phone'), d.phone, { type: 'tel' });
    fs.append(el('div', { class: 'name-parts' }, family.node, given.node), ...fieldNotes(ui, m, 'name'), birth.node, ...fieldNotes(ui, m, 'birth_date'), phone.node, ...fieldNotes(ui, m, 'phone'));
    if (m.pending.length || m.review.length) fs.append(el('p', {}, ...stateBadges(m)));
    inputs.set(m.id, { family: family.input, given: given.input, birth: birth.input, phone: phone.input });
    form.append(fs);
  }
  const status = el('p', { role: 'status', id: 'h-status', class: 'meta' });
  form.append(el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn', id: 'h-save', text: t('save') }), ui.link('#/h', t('back'), 'btn-link')), status);
  let dirty = false;
  form.addEventListener('input', () => { dirty = true; });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const diff = (seen, next) => {
      const changes = {};
      for (const [k, v] of Object.entries(next)) if (!same(v, seen[k])) changes[k] = { base: seen[k] ?? null, new: v ?? null };
      return changes;
    };
    // A date of birth the server would refuse is caught here, with the form still filled in.
    for (const m of members) {
      const b = inputs.get(m.id).birth;
      const bad = Boolean(b.value.trim()) && !validBirthDate(b.value.trim());
      b.setAttribute('aria-invalid', bad ? 'true' : 'false');
      if (bad) {
        status.textContent = t('birthInvalid');
        b.focus();
        return;
      }
    }
    const queued = [];
    const hc = diff(seenH, { address: address.input.value.trim() || null, address_notes: notes.input.value.trim() || null });
    if (Object.keys(hc).length) queued.push({ type: 'household', id, changes: hc, title: householdName(h) });
    for (const m of members) {
      const i = inputs.get(m.id);
      const fam = i.family.value.trim();
      const giv = i.given.value.trim();
      const seen = seenM.get(m.id);
      const next = { birth_date: i.birth.value.trim() || null, phone: i.phone.value.trim() || null };
      // A name is one value (family + given): unchanged parts keep the stored object as it was.
      const name = fam || giv ? { ...(seen.name || {}), family: fam, given: giv } : null;
      if (!same(name, seen.name)) next.name = name;
      const mc = diff(seen, next);
      if (Object.keys(mc).length) queued.push({ type: 'resident', id: m.id, changes: mc, title: nameText(seen.name) || m.id });
    }
    for (const q of queued) {
      await enqueue(ui.store, { kind: 'record.patch', type: q.type, id: q.id, changes: q.changes, label: { kind: q.type, title: q.title } });
    }
    dirty = false;
    status.textContent = queued.length ? t('savedQueued') : t('nothingChanged');
    if (!queued.length) return;
    await ui.updateSync();
    ui.flush();
    ui.route(false);
  });
  ui.main.append(form);

  // Contact log: entries are appended, never edited, so two visits recorded offline both survive.
  const log = Array.isArray(h.data.contact_log) ? h.data.contact_log : [];
  const logBox = el('section', { id: 'contact-log' }, el('h2', { text: t('contactLog') }));
  if (!log.length) logBox.append(el('p', { text: t('noLogEntries') }));
  else {
    logBox.append(el('ul', { class: 'log' }, [...log].reverse().map((e) => el('li', { 'data-entry': e.id || '' },
      el('p', { class: 'meta', text: `${jst(e.at, getLang(), { zone: true })} ${e.by || ''}` }), el('p', { text: e.text || '' })))));
  }
  const entry = field('h-log', t('newLogEntry'), '', { multiline: true, max: LONG });
  const add = el('button', { type: 'button', class: 'btn btn-secondary', id: 'h-log-add', text: t('addLogEntry') });
  add.addEventListener('click', async () => {
    const text = entry.input.value.trim();
    if (!text) { entry.input.focus(); return; }
    const acc = ui.session().account;
    const item = { id: ui.uuid(), at: new Date().toISOString(), by: (acc && acc.display_name) || '', text };
    await enqueue(ui.store, { kind: 'record.patch', type: 'household', id, changes: { contact_log: { base: clone(log), new: [...clone(log), item] } }, label: { kind: 'household', title: householdName(h) } });
    await ui.updateSync();
    ui.flush();
    ui.route(false);
  });
  logBox.append(entry.node, el('div', { class: 'actions' }, add));
  ui.main.append(logBox);
  // A change pulled from a colleague redraws the page unless the user is typing here.
  ui.onPulled((types) => {
    const typing = document.activeElement && document.activeElement.matches('input, textarea, select');
    if ((types.has('household') || types.has('resident')) && !dirty && !typing) ui.route(false);
  });
}

/** The router's entry: #/h lists the households, #/h/{id} opens one. */
export function render(ui, params) {
  return params.id ? householdPage(ui, params.id) : householdListPage(ui);
}
