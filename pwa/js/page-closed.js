// What a procedure with a scheduled close shows (closing.js has the date logic): past closes_at, its page
// shows the city's message and starts no new application, listing the drafts already started (those can be
// finished and sent: the server keeps accepting them, nothing typed is lost); before it, the first step says
// until when applications are taken. Loaded by page-procedure.js only for a procedure that has a close date.

import { t, tx, getLang } from './i18n.js';
import { el } from './dom.js';
import { store } from './db.js';
import { untouched } from './drafts.js';
import { link } from './shell.js';
import { jst } from './statuses.js';
import { isClosed, untilText } from './closing.js';

/** Draw the closed page and return true when `c` (a compiled procedure) is closed; else false, drawing nothing. */
export async function closedPage(view, c, now = Date.now()) {
  if (!isClosed(c.closes_at, now)) return false;
  // A draft with something typed (an untouched one made on opening is no application yet).
  const started = (await store.all('drafts')).filter((d) => d.kind === 'draft' && d.procedure_id === c.id && !d.submitted_as && !d.bundle_id
    && !untouched(d));
  view.setPage(tx(c.title));
  view.main.append(
    el('section', { class: 'notice', id: 'closed', 'aria-labelledby': 'closed-title' },
      el('h2', { id: 'closed-title', text: t('closedTitle') }),
      c.close_message ? el('p', { id: 'close-message', text: tx(c.close_message) }) : null),
    // DOM append turns null into the text "null": with no draft started, append nothing at all.
    ...(started.length ? [el('p', { text: t('closedDrafts') }),
      el('ul', { class: 'cards', id: 'closed-drafts' }, started.map((d) => el('li', { class: 'card' },
        link(`#/d/${d.id}`, tx(d.title || c.title), 'card-link'),
        el('p', { class: 'meta', text: `${t('updated')}: ${jst(d.updated_at, getLang(), { zone: true })}` }))))] : []),
    el('div', { class: 'actions' }, link('#/find', t('back'), 'btn-link')));
  return true;
}

/** The line under a procedure's first step: until when it takes applications (JST), or, past that, that this
 * draft (started before) can still be sent. */
export function deadlineLine(c, now = Date.now()) {
  return el('p', { class: 'notice', id: 'closes-at', text: isClosed(c.closes_at, now) ? t('closedStarted') : untilText(c.closes_at, getLang(), now) });
}
