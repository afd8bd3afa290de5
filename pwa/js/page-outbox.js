// #/outbox: what this device still has to send, per item, and 「送信待ちの内容をファイルに保存」.

import { t } from './i18n.js';
import { store } from './db.js';
import { exportOutbox } from './sync.js';
import { el } from './dom.js';
import { japanToday } from './expr.js';
import { itemStateText, entryTitle, reviewLines, updateSync, route, refreshSoon } from './shell.js';

export async function render(view) {
  const { main } = view;
  view.setPage(t('outboxTitle'));
  const [entries, attention] = await Promise.all([store.all('outbox'), store.all('attention')]);
  const all = [...entries, ...attention].sort((a, b) => a.seq - b.seq);
  if (!all.length) main.append(el('p', { text: t('outboxEmpty') }));
  else {
    main.append(el('ul', { class: 'cards', id: 'outbox-items' }, all.map((e) => {
      const li = el('li', { class: 'card', 'data-state': e.state, 'data-kind': e.kind },
        el('p', { class: 'card-link', text: entryTitle(e) }),
        el('p', { class: e.state === 'failed' ? 'error-text' : 'meta', text: itemStateText(e) }));
      if (e.state === 'needs_review') li.append(...reviewLines(e));
      if (e.state === 'failed') {
        const b = el('button', { type: 'button', class: 'btn-link', text: t('dismiss') });
        b.addEventListener('click', async () => {
          await store.tx(['outbox', 'attention'], 'readwrite', async (tr) => { await tr.delete('outbox', e.id); await tr.delete('attention', e.id); });
          await updateSync();
          route(false);
        });
        li.append(b);
      }
      return li;
    })));
  }
  // Last resort: the user keeps a copy of everything queued and shows it to staff.
  const exp = el('button', { type: 'button', class: 'btn btn-secondary', id: 'export-outbox', text: t('exportOutbox') });
  exp.addEventListener('click', async () => {
    const json = await exportOutbox(store);
    const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
    const a = el('a', { href: url, download: `madoguchi-outbox-${japanToday()}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  main.append(el('h2', { text: t('exportTitle') }), el('p', { class: 'hint', text: t('exportHint') }), el('div', { class: 'actions' }, exp));
  view.onOutbox(() => { if (location.hash === '#/outbox') refreshSoon(); });
}
