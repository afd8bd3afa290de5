// #/b/{bundle}: a life event's combined form (the shared fields once, then each procedure's own fields);
// #/b/{bundle}/review: check every procedure's answers, then send them all (one submission each).

import { t, tx } from './i18n.js';
import { store } from './db.js';
import { deleteDraft } from './sync.js';
import { el } from './dom.js';
import { renderFields, applyResult, domId } from './render.js';
import { isShown, parsePath } from './paths.js';
import { mappedFields, copyShared, sharedSource, sharedFieldsFor, mappedTargets } from './lifeevent.js';
import { loadIndex, loadJSON, drafts, updateSync, registerSync, flush, link, notFound, steps } from './shell.js';
import {
  openDraft, makeCtx, evalForm, sectionShown, errorSummary, errorLine, focusField, normalizeFocused, dedupe,
} from './formview.js';
import { reviewList, feeAndDocs, formatValue, queueDraft } from './formreview.js';

export async function render(view, params) {
  const bundleId = params.bundle;
  const review = params.review === 'review';
  const b = await store.get('drafts', bundleId);
  if (!b || b.kind !== 'bundle' || b.submitted_as) return notFound(view);
  const index = await loadIndex();
  const evEntry = (index.life_events || {})[b.event_id];
  if (!b.event_path && evEntry) b.event_path = evEntry.versions[b.event_version || evEntry.latest];
  const ev = await loadJSON(b.event_path);
  const parts = [];
  for (const did of b.drafts) {
    let opened = null;
    try { opened = await openDraft(did); } catch { opened = null; }
    if (opened) parts.push(opened);
  }
  if (!parts.length) { await deleteDraft(store, b.id); return notFound(view); }
  drafts.snapshot(b);
  const byProc = Object.fromEntries(parts.map((p) => [p.d.procedure_id, p.d.answers]));
  const mapped = mappedFields(ev);
  // Only the shared fields that feed an included procedure are asked.
  const sharedDefs = sharedFieldsFor(ev, parts.map((p) => p.d.procedure_id));
  const sharedTitle = { ja: t('shared', null, 'ja'), en: t('shared', null, 'en'), 'ja-easy': t('shared', null, 'ja-easy') };
  const sharedCompiled = { id: ev.id, version: ev.version, title: ev.title, sections: [{ id: 'shared', title: sharedTitle, fields: sharedDefs.map((sf) => sf.field) }] };
  b.shared = b.shared || {};
  b.typed = b.typed || [];
  b.prefilled = b.prefilled || [];
  const { main } = view;
  view.setPage(tx(ev.title)).before(steps(review ? 1 : 0));
  if (b.on_behalf_name) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: b.on_behalf_name }) }));
  const summaryHolder = el('div', {});
  main.append(summaryHolder);
  const sync = () => { copyShared(ev, b.shared, byProc); for (const p of parts) drafts.save(p.d); drafts.save(b); };
  const evaluateAll = () => parts.map((p) => ({ ...p, result: evalForm(p.compiled, p.d.answers) }));
  const sharedErrors = (results) => {
    const errs = [];
    for (const r of results) for (const e of r.result.errors || []) {
      const src = sharedSource(ev, r.d.procedure_id, String(parsePath(e.path)[0]));
      if (src && isShown(r.result, e.path)) errs.push({ ...e, path: src, scope: 'shared' });
    }
    return dedupe(errs);
  };
  if (review) {
    main.append(el('h2', { text: t('shared') }), el('dl', { class: 'review' }, sharedDefs.map((sf) => el('div', {},
      el('dt', { text: tx(sf.field.label) }), el('dd', { text: formatValue(sf.field, b.shared[sf.field.id]) }),
      el('dd', {}, el('a', { href: `#/b/${b.id}`, class: 'btn-link' }, t('change'), el('span', { class: 'visually-hidden', text: `：${tx(sf.field.label)}` })))))));
    for (const p of evaluateAll()) {
      main.append(el('h2', { text: tx(p.compiled.title) }), ...reviewList(p.compiled, p.d.answers, p.result, () => `#/b/${b.id}`, mapped.get(p.d.procedure_id) || new Set()), ...feeAndDocs(p.compiled, p.d.answers, p.result));
    }
    main.append(el('p', { class: 'notice', text: t('reviewNote') }));
    const submit = el('button', { type: 'button', class: 'btn', id: 'submit', text: t('submit') });
    submit.addEventListener('click', async () => {
      const results = evaluateAll();
      const bad = results.filter((r) => !r.result.valid);
      if (bad.length) {
        const items = bad.map((r) => ({ target: `#/b/${b.id}`, text: `${errorLine(r.compiled, r.result.errors[0])}（${tx(r.compiled.title)}）` }));
        summaryHolder.replaceChildren(errorSummary(items, (it) => { location.hash = it.target; }));
        document.getElementById('error-summary').focus();
        return;
      }
      submit.disabled = true;
      // Every procedure goes to the outbox first (each under its own idempotency key), then one flush.
      const ids = [];
      for (const r of results) {
        ids.push(await queueDraft(r.d, r.compiled, {
          sharedTyped: mappedTargets(ev, r.d.procedure_id, b.typed),
          // A shared value seeded from a profile prefill (and not changed) counts as prefilled in every procedure it feeds.
          sharedPrefilled: mappedTargets(ev, r.d.procedure_id, (b.prefilled || []).filter((id) => !(b.typed || []).includes(id))),
          flushNow: false,
        }));
      }
      await deleteDraft(store, b.id);
      await updateSync();
      registerSync();
      flush();
      location.hash = ids.length === 1 ? `#/s/${ids[0]}` : '#/';
    });
    main.append(el('div', { class: 'actions' }, submit, link(`#/b/${b.id}`, t('back'), 'btn-link')));
    return;
  }
  const form = el('form', { novalidate: true, id: 'form' });
  const boxes = [];
  const sharedBox = el('section', {}, el('h2', { text: t('shared') }));
  let showAll = false;
  const sharedDraft = { answers: b.shared, raw: b.raw || (b.raw = {}), prefilled: b.prefilled, locked: [], typed: b.typed, autofilled: b.autofilled };
  const refresh = () => {
    const results = evaluateAll();
    for (const { box, ctx, p } of boxes) {
      const result = results.find((r) => r.d === p.d).result;
      // Sections appear and disappear with the answers (show_if), as on the one-procedure pages.
      for (const sec of box.querySelectorAll(':scope > [data-section]')) {
        sec.hidden = !sectionShown(p.compiled.sections[Number(sec.dataset.section)], p.d.answers);
      }
      applyResult(box, result, ctx, { showAll });
    }
    const se = sharedErrors(results);
    applyResult(sharedBox, { shown: null, values: {}, errors: se }, sharedCtx, { showAll });
  };
  // A postal code lookup (info.rerender) writes several parts at once: redraw that box's fields.
  const sharedFieldsBox = el('div', {});
  const drawShared = () => { sharedFieldsBox.replaceChildren(); renderFields(sharedFieldsBox, sharedCompiled.sections[0].fields, sharedCtx); };
  // The shared answers live in the bundle record: saving goes there (sync() also saves the procedures).
  const sharedCtx = makeCtx('shared', sharedDraft, sharedCompiled, (path, info) => { b.autofilled = sharedDraft.autofilled; sync(); if (info.rerender) drawShared(); refresh(); }, { save: () => {} });
  sharedCtx.onChange = ((inner) => (path, info) => {
    const top = String(parsePath(path)[0]);
    if (info.typed && !b.typed.includes(top)) b.typed.push(top);
    inner(path, info);
  })(sharedCtx.onChange);
  drawShared();
  sharedBox.append(sharedFieldsBox);
  form.append(sharedBox);
  for (const p of parts) {
    const box = el('section', {}, el('h2', { text: tx(p.compiled.title) }));
    const hide = mapped.get(p.d.procedure_id) || new Set();
    const draw = () => {
      box.querySelectorAll(':scope > [data-section]').forEach((n) => n.remove());
      (p.compiled.sections || []).forEach((s, i) => {
        const fields = (s.fields || []).filter((f) => !hide.has(f.id));
        if (!fields.length) return;
        const sec = el('div', { 'data-section': String(i) }, el('h3', { text: tx(s.title) }));
        renderFields(sec, fields, ctx);
        box.append(sec);
      });
    };
    const ctx = makeCtx(`p-${p.d.procedure_id}`, p.d, p.compiled, (path, info) => { if (info.rerender) draw(); refresh(); });
    ctx.hide = hide;
    draw();
    boxes.push({ box, ctx, p });
    form.append(box);
  }
  refresh();
  form.append(el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn', text: t('toReview') }), link(`#/e/${b.event_id}`, t('back'), 'btn-link')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    normalizeFocused();
    showAll = true;
    refresh();
    const results = evaluateAll();
    const items = sharedErrors(results).map((er) => ({ target: domId('shared', er.path), text: errorLine(sharedCompiled, er) }));
    for (const r of results) {
      const hide = mapped.get(r.d.procedure_id) || new Set();
      for (const er of dedupe(r.result.errors || [])) {
        if (hide.has(String(parsePath(er.path)[0])) || !isShown(r.result, er.path)) continue;
        items.push({ target: domId(`p-${r.d.procedure_id}`, er.path), text: `${errorLine(r.compiled, er)}（${tx(r.compiled.title)}）` });
      }
    }
    if (items.length) {
      summaryHolder.replaceChildren(errorSummary(items, (it) => focusField(it.target)));
      document.title = `${t('errorPrefix')}${tx(ev.title)} — ${t('app')}`;
      document.getElementById('error-summary').focus();
      return;
    }
    await drafts.saved();
    location.hash = `#/b/${b.id}/review`;
  });
  main.append(form);
}
