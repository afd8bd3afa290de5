// Where a staff role goes for its work, from the app (issue 14: "The configurator role lands on
// /console/procedures, never on a refusal"): roles with the console to /console, a configurator (capability
// configure, no console, no file) to /console/procedures. The home's staff links use it, and a procedure
// opened by a role that cannot file shows its facts with this link: that page is loaded from here only
// then (page-procedure.js imports it lazily), so it costs the first screen's 60 KB nothing.

import { t, tx } from './i18n.js';
import { el } from './dom.js';
import { can, link } from './shell.js';

/** The console page this account works on, or null (residents, signed out). */
export const consoleHref = () => (can('console') ? '/console' : can('configure') ? '/console/procedures' : null);

/** The link to it, or null. */
export function consoleLink(cls = 'btn btn-secondary') {
  const href = consoleHref();
  return href && link(href, t('consoleLink'), cls);
}

/** A procedure opened by a role that does not file: its facts (`header`: page-procedure.js's procedureHeader),
 * that applications are not made here, and the way to the console. */
export function cannotFilePage(view, c, header) {
  view.setPage(tx(c.title));
  view.main.append(...header(c), el('p', { class: 'notice', id: 'cannot-file', text: t('cannotFile') }),
    el('div', { class: 'actions' }, consoleLink('btn'), link('#/find', t('back'), 'btn-link')));
}
