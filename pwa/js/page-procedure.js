// #/p/{id}: a procedure's overview before starting: roughly how long it takes (the build's estimate), what
// to have at hand, fee, deadline; and 「申請を始める」.

import { t, tx } from './i18n.js';
import { el } from './dom.js';
import { latestProcedure, actingFor, newDraft, mayFile, link, notFound, isStaff } from './shell.js';
import { aboutTime, documentsAtHand } from './steps.js';

export async function render(view, { id }) {
  const p = await latestProcedure(id);
  if (!p) return notFound(view);
  const c = p.compiled;
  const { main } = view;
  view.setPage(tx(c.title));
  if (c.description) main.append(el('p', { text: tx(c.description) }));
  const about = aboutTime(c.estimate_seconds);
  if (about) main.append(el('p', { class: 'estimate', id: 'estimate', text: t('takes', { time: t(about.key, { n: about.n }) }) }));
  main.append(el('p', { class: 'meta', text: `${t('department')}: ${tx(c.department && c.department.name)}` }));
  if (c.fee) main.append(el('p', { class: 'fee', text: `${t('fee')}: ${c.fee.amount}円${c.fee.per ? ` / ${tx(c.fee.per)}` : ''}` }));
  if (c.deadline) main.append(el('p', {}, `${t('deadline')}: ${tx(c.deadline)}`));
  const docItem = (d) => el('li', {}, tx(d.label), d.note ? el('span', { class: 'meta', text: `（${tx(d.note)}）` }) : null);
  const { always, sometimes } = documentsAtHand(c);
  if (always.length) main.append(el('h2', { text: t('atHand') }), el('ul', { id: 'at-hand' }, always.map(docItem)));
  if (sometimes.length) main.append(el('h2', { text: t('sometimesNeeded') }), el('ul', {}, sometimes.map(docItem)));
  // Another resident confirms their own part from their own account (staff at the counter fill every part).
  if ((c.parties || []).length && !isStaff()) main.append(el('p', { class: 'notice', id: 'parties-note', text: t('partiesNote', { who: c.parties.map((x) => tx(x.label)).join('、') }) }));
  const acting = actingFor();
  if (acting) main.append(el('p', { class: 'notice', text: t('onBehalfOf', { name: acting.name }) }));
  if (!mayFile()) { // reviewers, configurators, admins: nothing to start here that the server would take
    main.append(el('p', { class: 'notice', id: 'cannot-file', text: t('cannotFile') }), el('div', { class: 'actions' }, link('#/find', t('back'), 'btn-link')));
    return;
  }
  const start = el('button', { type: 'button', class: 'btn', text: t('start') });
  start.addEventListener('click', async () => {
    const d = await newDraft(p);
    location.hash = `#/d/${d.id}`;
  });
  main.append(el('div', { class: 'actions' }, start, link('#/find', t('back'), 'btn-link')));
}
