// #/ home: drafts, waiting and submitted applications, needs-info items, changes waiting for review; staff
// pick the resident they act for.

import { t, tx, htmlLang } from './i18n.js';
import { store } from './db.js';
import { deleteDraft } from './sync.js';
import { api } from './api.js';
import { el } from './dom.js';
import { state, loadCatalog, actingFor, setActingFor, isStaff, link, statusBadge, itemStateText, entryTitle, reviewLines, flush, route, refreshSoon } from './shell.js';

async function residentPicker() {
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
  sel.addEventListener('change', () => {
    const r = residents.find((x) => String(x.id) === sel.value);
    setActingFor(r ? { id: r.id, name: r.name || String(r.id) } : null);
    route(false);
  });
  return el('div', { class: 'field' }, el('label', { for: 'acting-for', text: t('pickResident') }), note, sel);
}

export async function render(view) {
  const { main } = view;
  const h1 = view.setPage(t('homeTitle'));
  const acting = actingFor();
  if (state.session.signed_in && isStaff()) {
    main.append(await residentPicker());
    main.append(el('p', {}, link('#/h', t('households'), 'btn btn-secondary')));
  }
  main.append(el('div', { class: 'actions' }, link('#/find', t('findCta'), 'btn'), link('#/find#events', t('eventsCta'), 'btn btn-secondary')));
  const [allDrafts, outbox, attention, cached] = await Promise.all([store.all('drafts'), store.all('outbox'), store.all('attention'), store.all('submissions')]);
  let server = null;
  if (state.session.signed_in && navigator.onLine) {
    try {
      server = await api('/api/submissions');
      for (const s of server) await store.put('submissions', { ...(cached.find((c) => c.id === s.id) || {}), ...s });
    } catch { server = null; }
  }
  const submissions = server ? await store.all('submissions') : cached;
  const catalog = await loadCatalog().catch(() => null);
  const titleOf = (id, fallback) => (catalog && catalog.procedures[id] ? tx(catalog.procedures[id].title) : fallback || id);

  const needs = submissions.filter((s) => s.status === 'needs_info');
  if (needs.length) {
    main.append(el('h2', { text: t('needsInfo') }));
    main.append(el('ul', { class: 'cards' }, needs.map((s) => el('li', { class: 'card' },
      el('p', { class: 'card-link', text: titleOf(s.procedure_id, s.title) }), el('p', {}, `${t('receiptNo')}: ${s.receipt_number} `, statusBadge(s.status))))));
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
  if (!mine.length) main.append(el('p', { text: t('noDrafts') }));
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
      return el('li', { class: 'card', 'data-draft': d.id },
        link(d.kind === 'bundle' ? `#/b/${d.id}` : `#/d/${d.id}`, tx(d.title) || d.procedure_id, 'card-link'),
        d.on_behalf_name ? el('p', { class: 'meta', text: t('onBehalfOf', { name: d.on_behalf_name }) }) : null,
        d.error ? el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }) : null,
        el('p', { class: 'meta', text: `${t('updated')}: ${new Date(d.updated_at).toLocaleString(htmlLang() === 'en' ? 'en' : 'ja-JP')}` }), del);
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
        el('p', {}, `${t('receiptNo')}: `, el('strong', { text: s.receipt_number || '' }), ' ', statusBadge(s.status || 'received'))))));
  }
  if (acting) h1.after(el('p', { class: 'notice', text: t('onBehalfOf', { name: acting.name }) }));
  view.onOutbox(() => { if (location.hash === '' || location.hash === '#/') refreshSoon(); });
  view.onPulled(() => { if (location.hash === '' || location.hash === '#/') refreshSoon(); });
}
