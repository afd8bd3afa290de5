// #/d/{draft}/{n}: step n (section n) of a draft's form; #/d/{draft}: its first step. A section with nothing
// to answer (notices only, fully prefilled, staff's or another party's) is no step: it folds into the review
// (steps.js), though #/d/{draft}/{n} still opens it (the review's 変更 links). A newer published version of the procedure takes over the
// answers (migrate.js); a change pulled from the user's other device redraws the page unless they type.

import { t, tx } from './i18n.js';
import { store } from './db.js';
import { same } from './syncstate.js';
import { el } from './dom.js';
import { renderFields, applyResult, domId } from './render.js';
import { isShown, topOf } from './paths.js';
import { drafts, link, notFound, failPage, route, steps, isStaff } from './shell.js';
import { procedureHeader } from './page-procedure.js';
import { stepSections, stepBeside, foldedFields } from './steps.js';
import {
  openDraft, makeCtx, evalForm, visibleSections, migrationNotice, errorSummary, errorLine, focusField, normalizeFocused, dedupe,
} from './formview.js';

export async function render(view, params) {
  const first = params.n === undefined || params.n === '';
  const n = Number(params.n || 0);
  let opened;
  try { opened = await openDraft(params.draft); } catch { return failPage(view, t('procedureMissing')); }
  if (!opened) return notFound(view);
  const { d, compiled } = opened;
  if (d.migration && d.migration.ask && d.migration.ask.length && !d.migration.shown) {
    // Straight to the first page with a newly required field; answers already given stay.
    d.migration.shown = true;
    await drafts.save(d);
    const { firstSectionWith } = await import('./migrate.js');
    const sec = firstSectionWith(compiled, d.migration.ask);
    if (sec >= 0 && sec !== n) {
      if (view.current()) location.hash = `#/d/${d.id}/${sec}`;
      return;
    }
  }
  const secs = visibleSections(compiled, d.answers);
  const stepList = stepSections(secs, d, evalForm(compiled, d.answers), undefined, isStaff());
  if (first && !stepList.length) {
    // Nothing to answer at all: straight to the review (replace: 戻る does not come back here).
    if (view.current()) location.replace(`#/d/${d.id}/review`);
    return;
  }
  const at = first ? stepList[0] : secs.find(({ i }) => i === n) || secs[0];
  const { s: section, i: secIndex } = at;
  // Progress counts the steps (plus this section when the review opened a folded one).
  const progressList = stepList.some(({ i }) => i === secIndex) ? stepList : [...stepList, at].sort((a, b) => a.i - b.i);
  const pos = progressList.findIndex(({ i }) => i === secIndex) + 1;
  const { main } = view;
  const h1 = view.setPage(tx(compiled.title));
  h1.before(steps(0));
  // Focus goes to the step's heading on every step change (focusTitle focuses #page-title).
  h1.removeAttribute('id');
  // The first step carries what the overview said: the estimate and what to have at hand, the rest folded.
  if (pos === 1) main.append(...procedureHeader(compiled));
  if (d.on_behalf_name) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: d.on_behalf_name }) }));
  if (d.error) main.append(el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }));
  const mig = migrationNotice(d, compiled);
  if (mig) main.append(mig);
  const form = el('form', { novalidate: true, id: 'form' });
  view.onPulled(async (types) => {
    // A change from the user's other device: redraw with it unless they are typing here right now.
    if (!types.has('draft')) return;
    const cur = await store.get('drafts', d.id);
    if (cur && same(cur.answers, d.answers) && cur.procedure_version === d.procedure_version) return;
    const typing = document.activeElement && document.activeElement.matches('input, textarea, select');
    if (!typing && !drafts.hasPending(d.id) && location.hash.startsWith(`#/d/${d.id}/`)) route(false);
  });
  const summaryHolder = el('div', {});
  const progressText = t('section', { n: pos, total: progressList.length });
  form.append(summaryHolder,
    el('h2', { id: 'page-title', tabindex: '-1', class: 'step-title' }, el('span', { class: 'step-count', text: progressText }), ` ${tx(section.title)}`),
    el('progress', { class: 'step-progress', max: String(progressList.length), value: String(pos), 'aria-label': `${t('progress')} ${progressText}` }));
  if (section.help) form.append(el('p', { class: 'hint', text: tx(section.help) }));
  const fieldsBox = el('div', {});
  form.append(fieldsBox);
  let result = null;
  let showAll = false;
  let next = null;
  const ctx = makeCtx('f', d, compiled, (path, info) => {
    result = evalForm(compiled, d.answers);
    // An answer can add or remove a later step (show_if): the button says where it leads now.
    const label = stepBeside(stepSections(visibleSections(compiled, d.answers), d, result, undefined, isStaff()), secIndex, 1) ? t('next') : t('toReview');
    // Only on a change: replacing the button's text between a press and its release (the press blurs the
    // field, which lands here) makes Chromium send the click to the form instead of the button.
    if (next && next.textContent !== label) next.textContent = label;
    if (info.rerender) drawFields();
    else applyResult(fieldsBox, result, ctx, { showAll });
  });
  const drawFields = () => {
    fieldsBox.replaceChildren();
    result = evalForm(compiled, d.answers);
    ctx.fold = foldedFields(section.fields || [], d, result, isStaff()); // the prefilled values: one line
    renderFields(fieldsBox, section.fields || [], ctx);
    applyResult(fieldsBox, result, ctx, { showAll });
  };
  drawFields();
  import('./field-telemetry.js').then((m) => m.track(d, isStaff()));
  const nextStep = stepBeside(stepList, secIndex, 1);
  const prevStep = stepBeside(stepList, secIndex, -1);
  next = el('button', { type: 'submit', class: 'btn', text: nextStep ? t('next') : t('toReview') });
  const backHref = prevStep ? `#/d/${d.id}/${prevStep.i}` : '#/find';
  form.append(el('div', { class: 'actions' }, next, link(backHref, t('back'), 'btn-link')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    normalizeFocused();
    result = evalForm(compiled, d.answers);
    const ids = new Set((section.fields || []).map((f) => f.id));
    const errs = (result.errors || []).filter((er) => ids.has(topOf(er.path)) && isShown(result, er.path));
    showAll = true;
    applyResult(fieldsBox, result, ctx, { showAll });
    if (errs.length) {
      const items = dedupe(errs).map((er) => ({ target: domId('f', er.path), text: errorLine(compiled, er) }));
      summaryHolder.replaceChildren(errorSummary(items, (it) => focusField(it.target)));
      document.title = `${t('errorPrefix')}${tx(compiled.title)} — ${t('app')}`;
      document.getElementById('error-summary').focus();
      return;
    }
    await drafts.saved();
    // The steps again with these answers: a show_if may have added or removed one.
    const after = stepBeside(stepSections(visibleSections(compiled, d.answers), d, evalForm(compiled, d.answers), undefined, isStaff()), secIndex, 1);
    location.hash = after ? `#/d/${d.id}/${after.i}` : `#/d/${d.id}/review`;
  });
  main.append(form);
}
