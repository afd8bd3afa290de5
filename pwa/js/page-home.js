// #/ home: drafts, waiting and submitted applications, needs-info items, changes waiting for review; staff
// pick the resident they act for. What a role sees follows `can()` (the server's role policy sent with the
// session): outreach workers pick from their assigned residents, counter staff search the registry, casework
// staff get the household records and the console (a configurator: /console/procedures, console-link.js),
// roles that cannot file get no drafts.

import { t, tx, getLang, addStrings } from './i18n.js';
import { STRINGS } from './strings-follow.js';
import { STRINGS as COUNTER } from './strings-counter.js';
import { store } from './db.js';
import { deleteDraft } from './sync.js';
import { api } from './api.js';
import { refreshStatuses, jst } from './statuses.js';
import { el } from './dom.js';
import { consoleLink } from './console-link.js';
import { state, loadCatalog, actingFor, setActingFor, prefetchProfile, can, mayFile, link, statusBadge, itemStateText, entryTitle, reviewLines, flush, route, refreshSoon } from './shell.js';

addStrings(STRINGS);
addStrings(COUNTER);

function actFor(r) {
  const acting = r ? { id: r.id, name: r.name || String(r.id) } : null;
  setActingFor(acting);
  prefetchProfile(acting);
  route(false);
}

/** Outreach workers: the residents assigned to them (the last list when offline). */
async function assignedPicker() {
  let residents = (await store.getMeta('residents')) || [];
  let note = null;
  try {
    residents = await api('/api/outreach/residents');
    await store.setMeta('residents', residents);
  } catch { note = el('p', { class: 'hint', text: t('residentsUnavailable') }); }
  const sel = el('select', { id: 'acting-for' });
  sel.append(el('option', { value: '', text: t('noResident') }));
  const cur = actingFor();
  for (const r of residents) sel.append(el('option', { value: r.id, text: `${r.name || r.id}${r.address ? `（${r.address}）` : ''}`, selected: cur && cur.id === r.id }));
  sel.addEventListener('change', () => actFor(residents.find((x) => String(x.id) === sel.value)));
  return el('div', { class: 'field' }, el('label', { for: 'acting-for', text: t('pickResident') }), note, sel);
}

/** Counter staff: the resident in front of them, found in the registry (GET /api/registry/search, audited). */
function registryPicker() {
  const q = el('input', { id: 'resident-q', type: 'search', autocomplete: 'off', 'aria-describedby': 'resident-q-hint' });
  const out = el('div', { id: 'resident-results', 'aria-live': 'polite' });
  const form = el('form', { class: 'search', role: 'search', novalidate: true, id: 'resident-search' },
    el('div', { class: 'field' }, el('label', { for: 'resident-q', text: t('residentSearch') }),
      el('p', { class: 'hint', id: 'resident-q-hint', text: t('residentSearchHint') }), q),
    el('button', { type: 'submit', class: 'btn btn-small', text: t('search') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!q.value.trim()) return;
    let found;
    try { found = await api(`/api/registry/search?q=${encodeURIComponent(q.value.trim())}`); } catch {
      out.replaceChildren(el('p', { class: 'hint', text: t('residentSearchFailed') }));
      return;
    }
    out.replaceChildren(found.length ? el('ul', { class: 'cards' }, found.map((r) => {
      const name = `${r.family || ''} ${r.given || ''}`.trim() || r.id;
      const pick = el('button', { type: 'button', class: 'btn btn-small', text: t('residentPick') });
      pick.append(el('span', { class: 'visually-hidden', text: `：${name}` }));
      pick.addEventListener('click', () => actFor({ id: r.id, name }));
      return el('li', { class: 'card' }, el('p', { class: 'card-link', text: name }),
        el('p', { class: 'meta', text: [r.birth_date, r.address].filter(Boolean).join('　') }), pick);
    })) : el('p', { text: t('noResults') }));
  });
  const acting = actingFor();
  const stop = el('button', { type: 'button', class: 'btn-link', text: t('noResident') });
  stop.addEventListener('click', () => actFor(null));
  return el('div', { id: 'resident-picker' }, form, out, acting ? el('p', {}, stop) : null);
}

export async function render(view) {
  const { main } = view;
  const h1 = view.setPage(t('homeTitle'));
  const acting = actingFor();
  if (can('file_on_behalf')) {
    if (can('assigned_residents')) main.append(await assignedPicker());
    else if (can('registry_search')) main.append(registryPicker());
  }
  const staffLinks = [can('households') ? link('#/h', t('households'), 'btn btn-secondary') : null,
    consoleLink()].filter(Boolean);
  if (staffLinks.length) main.append(el('div', { class: 'actions', id: 'staff-links' }, ...staffLinks));
  main.append(el('div', { class: 'actions' }, link('#/find', t('findCta'), 'btn'), link('#/find#events', t('eventsCta'), 'btn btn-secondary')));
  // A signed-in resident: the code to show at the counter (page-counter.js).
  if (can('counter_code')) main.append(el('p', {}, link('#/k', t('counterCodeLink'), 'btn btn-secondary')));
  // 来庁の予約: the next booking, an open ticket, 「来庁を予約する」 (booking-home.js, loaded here: not in the shell).
  if (!state.session.signed_in || can('booking')) main.append(...await (await import('./booking-home.js')).bookingBlock());
  // Roles that cannot file (reviewers, configurators, admins) have no drafts or applications of their own.
  if (!mayFile()) return;
  const [allDrafts, outbox, attention, cached] = await Promise.all([store.all('drafts'), store.all('outbox'), store.all('attention'), store.all('submissions')]);
  let fresh = false;
  if (state.session.signed_in && navigator.onLine) {
    try { await refreshStatuses(store); fresh = true; } catch { /* offline: what was loaded before */ }
  }
  const submissions = fresh ? await store.all('submissions') : cached;
  const catalog = await loadCatalog().catch(() => null);
  const titleOf = (id, fallback) => (catalog && catalog.procedures[id] ? tx(catalog.procedures[id].title) : fallback || id);

  // What changed since the resident last looked (statuses.js), also without Web Push.
  const news = submissions.filter((s) => s.changed && s.receipt_number);
  if (news.length) {
    main.append(el('section', { class: 'notice', id: 'updates', 'aria-labelledby': 'updates-title' }, el('h2', { id: 'updates-title', text: t('updates') }),
      el('ul', {}, news.map((s) => el('li', {}, link(`#/s/${s.id}`, t('updatedTo', { no: s.receipt_number, status: t(`status_${s.status}`) })))))));
  }
  // Applications another resident asked me to confirm (two-person procedures): online only, like the invitation.
  if (can('parties') && navigator.onLine) main.append(...await (await import('./parties-ui.js')).confirmationsBlock());
  const needs = submissions.filter((s) => s.status === 'needs_info');
  if (needs.length) {
    main.append(el('h2', { text: t('needsInfo') }));
    main.append(el('ul', { class: 'cards' }, needs.map((s) => el('li', { class: 'card' },
      link(`#/s/${s.id}`, titleOf(s.procedure_id, s.title), 'card-link'), el('p', {}, `${t('receiptNo')}: ${s.receipt_number} `, statusBadge(s.status))))));
  }
  // Changes of mine that a person has to decide (docs/sync.md, conflict review).
  const review = [...outbox, ...attention].filter((e) => e.state === 'needs_review');
  if (review.length) {
    main.append(el('h2', { text: t('waitingReview') }), el('p', { class: 'hint', text: t('reviewWaitText') }));
    main.append(el('ul', { class: 'cards', id: 'review-items' }, review.map((e) => el('li', { class: 'card' },
      el('p', { class: 'card-link', text: entryTitle(e) }), el('p', {}, el('span', { class: 'badge badge-warn', text: t('item_needs_review') })),
      ...reviewLines(e)))));
  }
  main.append(el('h2', { text: t('drafts') }));
  const drafts = allDrafts.filter((d) => !d.submitted_as);
  // A life event's combined form is one card; the procedures' drafts inside it are not listed apart.
  const mine = drafts.filter((d) => d.kind === 'bundle' || !d.bundle_id || !drafts.some((x) => x.id === d.bundle_id));
  if (!mine.length) main.append(el('p', { id: 'no-drafts', text: t('noDrafts') }));
  else {
    main.append(el('ul', { class: 'cards', id: 'draft-cards' }, mine.sort((a, b) => b.updated_at - a.updated_at).map((d) => {
      const del = el('button', { type: 'button', class: 'btn-link', text: t('deleteDraft') });
      del.append(el('span', { class: 'visually-hidden', text: `：${tx(d.title)}` }));
      del.addEventListener('click', async () => {
        for (const id of d.kind === 'bundle' ? d.drafts || [] : []) await deleteDraft(store, id);
        await deleteDraft(store, d.id);
        flush();
        route();
      });
      // Finish it at the counter instead: a code carrying its answers (page-counter.js).
      const atCounter = can('counter_code') ? link(`#/k/${d.id}`, t('counterContinue'), 'btn-link') : null;
      if (atCounter) atCounter.append(el('span', { class: 'visually-hidden', text: `：${tx(d.title)}` }));
      return el('li', { class: 'card', 'data-draft': d.id },
        link(d.kind === 'bundle' ? `#/b/${d.id}` : `#/d/${d.id}`, tx(d.title) || d.procedure_id, 'card-link'),
        d.on_behalf_name ? el('p', { class: 'meta', text: t('onBehalfOf', { name: d.on_behalf_name }) }) : null,
        d.error ? el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }) : null,
        el('p', { class: 'meta', text: `${t('updated')}: ${jst(d.updated_at, getLang(), { zone: true })}` }), del, atCounter);
    })));
  }
  main.append(el('h2', { text: t('submitted') }));
  const subEntries = [...outbox, ...attention].filter((e) => e.type === 'submission');
  const sent = new Map(submissions.filter((s) => s.receipt_number).map((s) => [s.id, s]));
  const waiting = subEntries.filter((e) => !sent.has(e.rid) && (e.state === 'waiting' || e.state === 'sending' || e.state === 'failed'));
  if (!waiting.length && !sent.size) main.append(el('p', { text: t('noSubmitted') }));
  else {
    main.append(el('ul', { class: 'cards' },
      waiting.map((e) => el('li', { class: 'card' }, link(`#/s/${e.rid}`, titleOf(e.label && e.label.procedure_id, tx(e.label && e.label.title)), 'card-link'),
        el('p', {}, e.state === 'failed' ? el('span', { class: 'badge badge-err', text: itemStateText(e) }) : statusBadge('pending')))),
      [...sent.values()].sort((a, b) => String(b.received_at).localeCompare(String(a.received_at))).map((s) => el('li', { class: 'card' },
        link(`#/s/${s.id}`, titleOf(s.procedure_id, tx(s.title)), 'card-link'),
        el('p', {}, `${t('receiptNo')}: `, el('strong', { text: s.receipt_number || '' }), ' ', statusBadge(s.status || 'received'),
          s.changed ? el('span', { class: 'badge badge-new', text: ` ${t('newBadge')}` }) : null)))));
  }
  if (acting) h1.after(el('p', { class: 'notice', text: t('onBehalfOf', { name: acting.name }) }));
  view.onOutbox(() => { if (location.hash === '' || location.hash === '#/') refreshSoon(); });
  view.onPulled(() => { if (location.hash === '' || location.hash === '#/') refreshSoon(); });
}
