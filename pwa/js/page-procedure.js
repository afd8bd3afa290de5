// #/p/{id}: opening a procedure. A resident who may file lands on its first step at once (issue 12: an
// overview before starting is a screen with nothing to answer, so it folds): the newest draft of this
// procedure they have not answered anything in yet is reused, else a new one is made. The first step shows
// procedureHeader below: one line (かかる時間の目安 and what to have at hand) and the rest folded in a <details>.
// Whoever cannot file (reviewers, configurators, admins) sees the same facts, no way to start and the link to
// their console (console-link.js, loaded only then). Past a
// scheduled close, nobody starts: page-closed.js shows the city's message and the drafts already started.

import { t, tx } from './i18n.js';
import { el } from './dom.js';
import { store } from './db.js';
import { untouched } from './drafts.js';
import { latestProcedure, actingFor, newDraft, mayFile, notFound, isStaff, sessionReady } from './shell.js';
import { aboutTime, documentsAtHand } from './steps.js';

/** 「かかる時間の目安：約1分・手元に用意するもの：本人確認書類」 (the list/finder cards show the same). */
export function atHandLine(seconds, docs, fee) {
  const about = aboutTime(seconds);
  const parts = about ? [t('takes', { time: t(about.key, { n: about.n }) })] : [];
  if (docs.length) parts.push(`${t('atHand')}：${docs.join('、')}`);
  if (fee) parts.push(`${t('fee')}：${fee}`);
  return parts.join('・');
}

const feeText = (c) => (c.fee ? `${c.fee.amount}円${c.fee.per ? ` / ${tx(c.fee.per)}` : ''}` : '');

/** The compact header of a procedure's first step: the line, then description, department, deadline,
 * the documents needed in some cases and who else confirms a part, in a collapsed <details>. */
export function procedureHeader(c) {
  const { always, sometimes } = documentsAtHand(c);
  const line = el('p', { class: 'estimate', id: 'estimate', text: atHandLine(c.estimate_seconds, always.map((d) => tx(d.label)), feeText(c)) });
  // A scheduled close: 「受付は…まで」 under the line, from a module loaded only for such a procedure.
  if (c.closes_at) import('./page-closed.js').then((m) => line.after(m.deadlineLine(c)));
  const docItem = (d) => el('li', {}, tx(d.label), d.note ? el('span', { class: 'meta', text: `（${tx(d.note)}）` }) : null);
  const more = el('details', { id: 'about' }, el('summary', { text: t('aboutProcedure') }),
    c.description ? el('p', { text: tx(c.description) }) : null,
    el('p', { class: 'meta', text: `${t('department')}: ${tx(c.department && c.department.name)}` }),
    c.deadline ? el('p', {}, `${t('deadline')}: ${tx(c.deadline)}`) : null,
    always.some((d) => d.note) ? el('ul', { id: 'at-hand' }, always.map(docItem)) : null,
    sometimes.length ? el('p', { text: t('sometimesNeeded') }) : null,
    sometimes.length ? el('ul', {}, sometimes.map(docItem)) : null,
    // Another resident confirms their own part from their own account (staff at the counter fill every part).
    (c.parties || []).length && !isStaff() ? el('p', { class: 'notice', id: 'parties-note', text: t('partiesNote', { who: c.parties.map((x) => tx(x.label)).join('、') }) }) : null);
  return [line, more];
}

export async function render(view, { id }) {
  const p = await latestProcedure(id);
  if (!p) return notFound(view);
  const c = p.compiled;
  // Opened cold from a link the page is drawn from the cached session: wait for the start's answer from the
  // server (online) so a new draft is prefilled from the right account's profile, and a role that cannot file
  // is told so. Opened later, that answer is already there: no round trip on the way to the form.
  if (navigator.onLine) await sessionReady();
  // Closed (a scheduled close is past): the city's message, and no new application (page-closed.js).
  if (c.closes_at && await (await import('./page-closed.js')).closedPage(view, c)) return;
  if (mayFile()) {
    const acting = isStaff() ? actingFor() : null;
    const mine = (d) => d.kind === 'draft' && d.procedure_id === c.id && !d.submitted_as && !d.error && !d.bundle_id
      && untouched(d) && (d.on_behalf_of || null) === (acting ? acting.id : null);
    const unused = (await store.all('drafts')).filter(mine).sort((a, b) => b.updated_at - a.updated_at)[0];
    const d = unused || await newDraft(p);
    // replace: 戻る from the first step leaves the procedure instead of opening it again.
    if (view.current()) location.replace(`#/d/${d.id}`);
    return;
  }
  (await import('./console-link.js')).cannotFilePage(view, c, procedureHeader);
}
