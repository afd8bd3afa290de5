// #/b/{bundle}: a life event's combined form in short steps: the shared fields once, then each procedure's
// sections that still ask something, one per screen (#/b/{bundle}/shared, #/b/{bundle}/{procedure}.{section};
// steps.js folds the rest into the review). #/b/{bundle}/review: check every procedure's answers, then send
// them all (one submission each).

import { t, tx, addStrings } from './i18n.js';
import { STRINGS } from './strings-counter.js';
import { store } from './db.js';
import { deleteDraft } from './sync.js';
import { el } from './dom.js';
import { renderFields, applyResult, domId } from './render.js';
import { isShown, topOf } from './paths.js';
import { mappedFields, sharedSources, copyShared, questionTargets, sharedSource, sharedFieldsFor, mappedTargets, sharedRequired } from './lifeevent.js';
import { loadIndex, loadJSON, drafts, updateSync, registerSync, flush, link, notFound, steps, isStaff, can } from './shell.js';
import {
  openDraft, makeCtx, evalForm, visibleSections, errorSummary, errorLine, focusField, normalizeFocused, dedupe,
} from './formview.js';
import { asksAnything, foldedFields, stepSections } from './steps.js';
import { allFields } from './drafts.js';
import { enteredPeople, followPeople, offeredPeople } from './people.js';

addStrings(STRINGS);

// Groups of people (`prefill_map`) of a procedure: a person entered in one is offered in every later one.
const peopleGroups = (compiled) => allFields(compiled).filter((f) => f.type === 'group' && f.prefill_map);

/**
 * The people entered before the `k`th procedure of the bundle (people.js enteredPeople): first the life
 * event's `people` (made of the shared answers: the newborn, the parent filing), then each procedure's groups.
 */
function peopleBefore(ev, shared, parts, k) {
  const lead = (ev.people || []).map((x) => ({ key: `event.${x.id}`, field: { prefill_map: x.map }, items: [shared] }));
  return enteredPeople([...lead, ...parts.slice(0, k).flatMap((p) => peopleGroups(p.compiled).map((f) => ({
    key: `${p.d.procedure_id}.${f.id}`, field: f, items: p.d.answers[f.id], listed: ((p.d.people || {})[f.prefill] || {}).list || [],
  })))]);
}
import { reviewList, feeAndDocs, formatValue, queueDraft, foldedNotes } from './formreview.js';

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
  // Fields a shared field or an answered question fills are not asked: the question's answer was copied in
  // when the bundle started (page-event.js; bundles started before questions were kept have none: their
  // procedures ask the field as before).
  const mapped = mappedFields(ev, b.questions || {});
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
  // A shared pick (the deceased) also gives the procedures' own person fields' other values (lifeevent.js).
  const byProcDraft = Object.fromEntries(parts.map((p) => [p.d.procedure_id, p]));
  const sync = () => { copyShared(ev, b.shared, byProc, byProcDraft); for (const p of parts) drafts.save(p.d); drafts.save(b); };
  // A correction of a person where they were entered (the shared fields: n = -1, or procedure n's group)
  // follows into the later procedures' items taken from them, where still as taken (people.js followPeople).
  const before = (k) => peopleBefore(ev, b.shared, parts, k);
  const snap = new Map();
  const snapshotAfter = (n) => { for (let k = n + 1; k < parts.length; k += 1) snap.set(k, before(k)); };
  const follow = (n) => {
    for (let k = n + 1; k < parts.length; k += 1) {
      const after = before(k);
      for (const g of peopleGroups(parts[k].compiled)) {
        const list = followPeople(g, parts[k].d.answers[g.id], snap.get(k) || [], after);
        if (list) { parts[k].d.answers[g.id] = list; drafts.save(parts[k].d); }
      }
    }
    snapshotAfter(n);
  };
  const eventMapped = new Set((ev.people || []).flatMap((x) => Object.keys(x.map || {})));
  const evaluateAll = () => parts.map((p) => ({ ...p, result: evalForm(p.compiled, p.d.answers) }));
  const sharedErrors = (results) => {
    const errs = [];
    for (const r of results) for (const e of r.result.errors || []) {
      const src = sharedSource(ev, r.d.procedure_id, topOf(e.path));
      if (src && isShown(r.result, e.path)) errs.push({ ...e, path: src, scope: 'shared' });
    }
    return dedupe(errs);
  };
  // A step's key and place: 'shared' first, then '{procedure id}.{section index}' in the procedures' order.
  const stepAt = (key) => {
    if (key === 'shared') return { key, order: -1 };
    const [pid, si] = String(key).split('.');
    const n = parts.findIndex((x) => x.d.procedure_id === pid);
    const i = Number(si);
    if (n < 0 || !Number.isInteger(i) || !(parts[n].compiled.sections || [])[i]) return null;
    return { key, p: parts[n], i, order: n * 1000 + i };
  };
  const bundleSteps = (results) => {
    const list = [];
    if (asksAnything(sharedDefs.map((sf) => sf.field), { answers: b.shared, prefilled: b.prefilled }, { shown: null, errors: sharedErrors(results) })) {
      list.push({ key: 'shared', order: -1 });
    }
    for (const r of results) {
      const hide = mapped.get(r.d.procedure_id) || new Set();
      for (const { i } of stepSections(visibleSections(r.compiled, r.d.answers), r.d, r.result, (sec) => (sec.fields || []).filter((f) => !hide.has(f.id)), isStaff())) {
        list.push(stepAt(`${r.d.procedure_id}.${i}`));
      }
    }
    return list;
  };
  if (review) {
    main.append(el('h2', { text: t('shared') }), el('dl', { class: 'review' }, sharedDefs.map((sf) => el('div', {},
      el('dt', { text: tx(sf.field.label) }), el('dd', { text: formatValue(sf.field, b.shared[sf.field.id], b.shared) }),
      el('dd', {}, el('a', { href: `#/b/${b.id}/shared`, class: 'btn-link' }, t('change'), el('span', { class: 'visually-hidden', text: `：${tx(sf.field.label)}` })))))));
    const all = evaluateAll();
    const stepKeys = new Set(bundleSteps(all).map((x) => x.key));
    for (const p of all) {
      // Sections that were no step: their notices are read here.
      const folded = visibleSections(p.compiled, p.d.answers).filter(({ i }) => !stepKeys.has(`${p.d.procedure_id}.${i}`));
      main.append(el('h2', { text: tx(p.compiled.title) }), ...reviewList(p.compiled, p.d.answers, p.result, (i) => `#/b/${b.id}/${p.d.procedure_id}.${i}`, mapped.get(p.d.procedure_id) || new Set()),
        ...foldedNotes(folded, p.result, 'h3'), ...feeAndDocs(p.compiled, p.d.answers, p.result));
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
          sharedTyped: [...mappedTargets(ev, r.d.procedure_id, b.typed), ...questionTargets(ev, r.d.procedure_id, b.questions)],
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
    const last = bundleSteps(evaluateAll()).slice(-1)[0];
    main.append(el('div', { class: 'actions' }, submit, link(last ? `#/b/${b.id}/${last.key}` : `#/e/${b.event_id}`, t('back'), 'btn-link')));
    // Or finish the life event at the counter: a code carrying every procedure's answers (page-counter.js).
    if (can('counter_code')) main.append(el('p', {}, link(`#/k/${b.id}`, t('counterContinue'), 'btn btn-secondary')));
    return;
  }
  // One step per screen: the shared fields first (once), then each procedure's sections that still ask
  // something (steps.js); #/b/{id}/{step}: 'shared' or '{procedure id}.{section index}'.
  // Every procedure evaluated once as the step opens: the step list, the fields drawn and their markers use
  // these results (as page-draft.js drawFields does); a change evaluates again, once.
  const opened = evaluateAll();
  const stepList = bundleSteps(opened);
  if (!stepList.length && !stepAt(params.review)) { if (view.current()) location.replace(`#/b/${b.id}/review`); return; }
  // A folded section opened from the review's 変更 shows too, in its place.
  const cur = stepList.find((x) => x.key === params.review) || (params.review && stepAt(params.review)) || stepList[0];
  const progressList = stepList.includes(cur) ? stepList : [...stepList, cur].sort((x, y) => x.order - y.order);
  const pos = progressList.indexOf(cur);
  const progressText = t('section', { n: pos + 1, total: progressList.length });
  const title = cur.p ? `${tx(cur.p.compiled.title)}：${tx(cur.p.compiled.sections[cur.i].title)}` : t('shared');
  main.querySelector('h1').removeAttribute('id'); // focus goes to the step heading (#page-title)
  const form = el('form', { novalidate: true, id: 'form' });
  form.append(
    el('h2', { id: 'page-title', tabindex: '-1', class: 'step-title' }, el('span', { class: 'step-count', text: progressText }), ` ${title}`),
    el('progress', { class: 'step-progress', max: String(progressList.length), value: String(pos + 1), 'aria-label': `${t('progress')} ${progressText}` }));
  const boxes = [];
  let showAll = false;
  const sharedDraft = { answers: b.shared, raw: b.raw || (b.raw = {}), prefilled: b.prefilled, locked: [], typed: b.typed, autofilled: b.autofilled,
    prefill_sources: sharedSources(ev, parts.map((p) => p.d)) };
  const sharedFieldsBox = el('div', {});
  const refresh = (results = evaluateAll()) => {
    for (const { box, ctx, p } of boxes) applyResult(box, results.find((r) => r.d === p.d).result, ctx, { showAll });
    if (!cur.p) applyResult(sharedFieldsBox, { shown: null, values: {}, errors: sharedErrors(results), required: sharedRequired(ev, results) }, sharedCtx, { showAll });
    // An answer can add or remove a later step (show_if): the button says where it leads now.
    const label = stepAfter(bundleSteps(results)) ? t('next') : t('toReview');
    if (nextBtn && nextBtn.textContent !== label) nextBtn.textContent = label; // only on a change (page-draft.js)
  };
  let nextBtn = null;
  // A postal code lookup (info.rerender) writes several parts at once: redraw that box's fields.
  const drawShared = (results) => {
    sharedFieldsBox.replaceChildren();
    sharedCtx.fold = foldedFields(sharedDefs.map((sf) => sf.field), sharedDraft, { shown: null, errors: sharedErrors(results) });
    renderFields(sharedFieldsBox, sharedCompiled.sections[0].fields, sharedCtx);
  };
  // The shared answers live in the bundle record: saving goes there (sync() also saves the procedures).
  const sharedCtx = makeCtx('shared', sharedDraft, sharedCompiled, (path, info) => {
    b.autofilled = sharedDraft.autofilled;
    if (eventMapped.has(topOf(path))) follow(-1);
    sync();
    const results = evaluateAll();
    if (info.rerender) drawShared(results);
    refresh(results);
  }, { save: () => {} });
  sharedCtx.onChange = ((inner) => (path, info) => {
    const top = topOf(path);
    if (info.typed && !b.typed.includes(top)) b.typed.push(top);
    inner(path, info);
  })(sharedCtx.onChange);
  const stepAfter = (list) => list.find((x) => x.order > cur.order) || null;
  let stepFields;
  if (!cur.p) {
    if (eventMapped.size) snapshotAfter(-1);
    // A shared person field (the deceased) picks from the household the procedures' drafts keep (drafts.js).
    if (sharedDefs.some((sf) => sf.field.type === 'person')) {
      sharedCtx.people = Object.assign({}, ...parts.map((p) => p.d.people || {}));
      sharedCtx.picker = sharedCtx.picker || await import('./picker.js');
    }
    drawShared(opened);
    form.append(el('section', { 'aria-labelledby': 'page-title' }, sharedFieldsBox));
    stepFields = null;
  } else {
    const { p, i } = cur;
    const hide = mapped.get(p.d.procedure_id) || new Set();
    const fields = (p.compiled.sections[i].fields || []).filter((f) => !hide.has(f.id));
    stepFields = new Set(fields.map((f) => f.id));
    const box = el('section', { 'aria-labelledby': 'page-title' });
    if (p.compiled.sections[i].help) box.append(el('p', { class: 'hint', text: tx(p.compiled.sections[i].help) }));
    const sec = el('div', { 'data-section': String(i) });
    box.append(sec);
    const draw = (results) => {
      sec.replaceChildren();
      ctx.fold = foldedFields(fields, p.d, results.find((r) => r.d === p.d).result, isStaff());
      renderFields(sec, fields, ctx);
    };
    const n = parts.indexOf(p);
    const ctx = makeCtx(`p-${p.d.procedure_id}`, p.d, p.compiled, (path, info) => {
      if (groupIds.has(topOf(path))) follow(n);
      const results = evaluateAll();
      if (info.rerender) draw(results);
      refresh(results);
    });
    ctx.hide = hide;
    // The people typed in earlier procedures of this life event: pickable beside the household, one tap each.
    const groupIds = new Set(peopleGroups(p.compiled).map((f) => f.id));
    const entered = before(n);
    const stepGroups = fields.filter((f) => groupIds.has(f.id) && f.pick);
    if (entered.length && stepGroups.length) {
      ctx.people = { ...(p.d.people || {}) };
      for (const f of stepGroups) {
        const own = (p.d.people || {})[f.prefill];
        ctx.people[f.prefill] = { source: own ? own.source : 'bundle', list: offeredPeople(own ? own.list : [], entered), self: own && own.self };
      }
      ctx.picker = ctx.picker || await import('./picker.js'); // lazily, as for a household
    }
    if (groupIds.size) snapshotAfter(n);
    draw(opened);
    boxes.push({ box, ctx, p });
    form.append(box);
  }
  refresh(opened);
  const next = stepAfter(stepList);
  const prev = [...stepList].reverse().find((x) => x.order < cur.order);
  nextBtn = el('button', { type: 'submit', class: 'btn', text: next ? t('next') : t('toReview') });
  form.append(el('div', { class: 'actions' }, nextBtn,
    link(prev ? `#/b/${b.id}/${prev.key}` : `#/e/${b.event_id}`, t('back'), 'btn-link')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    normalizeFocused();
    showAll = true;
    const results = evaluateAll();
    refresh(results);
    // Only this step's errors stop 次へ (the review checks everything).
    const items = [];
    if (!cur.p) {
      for (const er of sharedErrors(results)) items.push({ target: domId('shared', er.path), text: errorLine(sharedCompiled, er) });
    } else {
      const r = results.find((x) => x.d === cur.p.d);
      for (const er of dedupe(r.result.errors || [])) {
        if (!stepFields.has(topOf(er.path)) || !isShown(r.result, er.path)) continue;
        items.push({ target: domId(`p-${r.d.procedure_id}`, er.path), text: errorLine(r.compiled, er) });
      }
    }
    if (items.length) {
      summaryHolder.replaceChildren(errorSummary(items, (it) => focusField(it.target)));
      document.title = `${t('errorPrefix')}${tx(ev.title)} — ${t('app')}`;
      document.getElementById('error-summary').focus();
      return;
    }
    await drafts.saved();
    // The steps again with these answers: a show_if may have added or removed one after this one.
    const after = stepAfter(bundleSteps(evaluateAll()));
    location.hash = after ? `#/b/${b.id}/${after.key}` : `#/b/${b.id}/review`;
  });
  main.append(form);
}
