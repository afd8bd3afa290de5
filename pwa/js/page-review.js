// #/d/{draft}/review: check the answers (each with 変更), the fee and what to bring, then 送信. Sections that
// were no step (nothing to answer: steps.js) are here: their values with 変更, and their notices.

import { t, tx, addStrings } from './i18n.js';
import { STRINGS } from './strings-counter.js';
import { el } from './dom.js';
import { isShown, topOf } from './paths.js';
import { link, notFound, failPage, steps, isStaff, can } from './shell.js';
import { openDraft, evalForm, visibleSections, errorSummary, errorLine, dedupe } from './formview.js';
import { reviewList, feeAndDocs, queueDraft, foldedNotes } from './formreview.js';
import { stepSections } from './steps.js';

addStrings(STRINGS);

export async function render(view, params) {
  let opened;
  try { opened = await openDraft(params.draft); } catch { return failPage(view, t('procedureMissing')); }
  if (!opened) return notFound(view);
  const { d, compiled } = opened;
  // Drop-off telemetry per field: the review is part of the form's session (field-telemetry.js).
  const telemetry = import('./field-telemetry.js').then((m) => { m.track(d, isStaff()); return m; }).catch(() => null);
  const result = evalForm(compiled, d.answers);
  const { main } = view;
  view.setPage(t('reviewTitle')).before(steps(1));
  main.append(el('p', { class: 'meta', text: tx(compiled.title) }));
  if (d.on_behalf_name) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: d.on_behalf_name }) }));
  if (d.error) main.append(el('p', { class: 'error-text', text: t('draftError', { reason: d.error }) }));
  const shown = visibleSections(compiled, d.answers);
  const stepList = stepSections(shown, d, result, undefined, isStaff());
  const folded = shown.filter(({ i }) => !stepList.some((x) => x.i === i));
  const summaryHolder = el('div', {});
  main.append(summaryHolder, ...reviewList(compiled, d.answers, result, (i) => `#/d/${d.id}/${i}`));
  main.append(...feeAndDocs(compiled, d.answers, result));
  main.append(...foldedNotes(folded, result));
  main.append(el('p', { class: 'notice', text: t('reviewNote') }));
  const submit = el('button', { type: 'button', class: 'btn', id: 'submit', text: t('submit') });
  submit.addEventListener('click', async () => {
    const r = evalForm(compiled, d.answers);
    if (!r.valid) {
      const items = dedupe(r.errors).filter((e) => isShown(r, e.path)).map((e) => {
        const sec = (compiled.sections || []).findIndex((s) => (s.fields || []).some((f) => f.id === topOf(e.path)));
        return { target: `#/d/${d.id}/${sec}`, text: errorLine(compiled, e) };
      });
      summaryHolder.replaceChildren(errorSummary(items, (it) => { location.hash = it.target; }));
      document.getElementById('error-summary').focus();
      return;
    }
    submit.disabled = true;
    const id = await queueDraft(d, compiled);
    const m = await telemetry;
    if (m) m.sent(d); // before leaving the page: the session ends 'submitted', not 'left'
    location.hash = `#/s/${id}`;
  });
  main.append(el('div', { class: 'actions' }, submit, link(stepList.length ? `#/d/${d.id}/${stepList[stepList.length - 1].i}` : '#/find', t('back'), 'btn-link')));
  // Or finish it at the counter: a code carrying these answers (page-counter.js).
  if (can('counter_code')) main.append(el('p', {}, link(`#/k/${d.id}`, t('counterContinue'), 'btn btn-secondary')));
}
