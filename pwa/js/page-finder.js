// #/find: search the procedures (titles, keywords, in every language) and browse by life event.

import { t, tx } from './i18n.js';
import { el } from './dom.js';
import { searchProcedures } from './finder.js';
import { loadCatalog, isStaff, link } from './shell.js';
import { atHandLine } from './page-procedure.js';
import { isClosed } from './closing.js';

export async function render(view, params, query) {
  const catalog = await loadCatalog();
  const q = query.get('q') || '';
  view.setPage(t('finderTitle'));
  const input = el('input', { id: 'q', type: 'search', name: 'q', value: q, 'aria-describedby': 'q-hint', autocomplete: 'off' });
  const form = el('form', { class: 'search', role: 'search', novalidate: true },
    el('div', { class: 'field' }, el('label', { for: 'q', text: t('searchLabel') }), el('p', { class: 'hint', id: 'q-hint', text: t('searchHint') }), input),
    el('button', { type: 'submit', class: 'btn btn-small', text: t('search') }));
  const results = el('div', { id: 'results' });
  const draw = () => {
    const found = searchProcedures(catalog, input.value);
    const filtered = isStaff() ? found : found.filter((p) => !p.filers || p.filers.includes('resident'));
    results.replaceChildren(el('h2', { text: input.value.trim() ? t('results') : t('allProcedures') }),
      filtered.length ? el('ul', { class: 'cards' }, filtered.map((p) => el('li', { class: 'card' },
        link(`#/p/${p.id}`, tx(p.title), 'card-link'),
        isClosed(p.closes_at) ? el('p', {}, el('span', { class: 'badge badge-warn', text: t('closedBadge') })) : null, p.description ? el('p', { text: tx(p.description) }) : null,
        el('p', { class: 'estimate', text: atHandLine(p.estimate_seconds, (p.documents || []).map(tx)) }),
        p.department ? el('p', { class: 'meta', text: `${t('department')}: ${tx(p.department)}` }) : null)))
        : el('p', { text: t('noResults') }));
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); history.replaceState(null, '', `#/find?q=${encodeURIComponent(input.value)}`); draw(); });
  input.addEventListener('input', draw);
  const events = Object.entries(catalog.life_events || {});
  view.main.append(form, results, el('h2', { id: 'events', text: t('lifeEvents') }),
    el('ul', { class: 'cards' }, events.map(([id, e]) => el('li', { class: 'card' }, link(`#/e/${id}`, tx(e.title), 'card-link'), e.description ? el('p', { text: tx(e.description) }) : null))));
  draw();
}
