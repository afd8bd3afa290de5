// Two-person procedures, the first filer's and the home page's side (the other person's page is
// page-confirm.js): a held application's parties, its invitation code (shown once) and cancelling; the
// applications this account was invited to confirm. Loaded only where it is needed.

import { t, getLang, addStrings } from './i18n.js';
import { jst } from './statuses.js';
import { STRINGS } from './strings-parties.js';
import { api } from './api.js';
import { el } from './dom.js';
import { link, route } from './shell.js';

addStrings(STRINGS);


/**
 * The filer's block on #/s/{id} while the application waits for the other person: `rec` is the page's
 * `GET /api/submissions/{id}` (with `parties`), null when offline (a note: codes are made online).
 */
export function partiesBlock(id, rec) {
  const box = el('section', { id: 'parties', 'aria-labelledby': 'parties-title' }, el('h2', { id: 'parties-title', text: t('partyTitle') }), el('p', { text: t('partyWaitText') }));
  if (!rec) { box.append(el('p', { class: 'meta', text: t('offline') })); return box; }
  const out = el('div', { id: 'party-code-box', 'aria-live': 'polite' });
  for (const p of rec.parties || []) {
    box.append(el('p', { class: 'meta', 'data-party': p.party, text: t(`partyState_${p.state}`) }));
    if (p.state !== 'waiting') continue;
    const invite = el('button', { type: 'button', class: 'btn', id: `invite-${p.party}`, text: p.invitation_expires_at ? t('partyInviteAgain') : t('partyInvite') });
    invite.addEventListener('click', async () => {
      try {
        const inv = await api(`/api/submissions/${encodeURIComponent(id)}/parties/${encodeURIComponent(p.party)}/invitation`, { method: 'POST' });
        const url = `${location.origin}${location.pathname}#/c?code=${encodeURIComponent(inv.code)}`;
        out.replaceChildren(
          el('p', {}, `${t('partyCode')}: `, el('strong', { id: 'party-code-value', class: 'receipt', text: inv.code })),
          el('p', { class: 'hint', text: t('partyCodeShown', { until: jst(inv.expires_at, getLang(), { zone: true }) }) }),
          el('div', { class: 'field' }, el('label', { for: 'party-link', text: t('partyLink') }), el('input', { id: 'party-link', readonly: true, value: url })));
      } catch (e) { out.replaceChildren(el('p', { class: 'error-text', text: e && e.message ? t('partyFailed') : t('offline') })); }
    });
    box.append(el('div', { class: 'actions' }, invite));
  }
  const cancel = el('button', { type: 'button', class: 'btn-link', id: 'party-cancel', text: t('partyCancel') });
  cancel.addEventListener('click', async () => {
    if (!window.confirm(t('partyDeclineAsk'))) return;
    try { await api(`/api/submissions/${encodeURIComponent(id)}/cancel`, { method: 'POST' }); route(false); } catch { out.replaceChildren(el('p', { class: 'error-text', text: t('partyFailed') })); }
  });
  box.append(out, el('div', { class: 'actions' }, cancel));
  return box;
}

/** Home: the applications I was invited to confirm (claimed, not confirmed yet) and where to enter a code. */
export async function confirmationsBlock() {
  let items = [];
  try { items = (await api('/api/party-confirmations')).filter((v) => v.state === 'claimed' && v.status === 'awaiting_partner'); } catch { items = []; }
  const nodes = [el('h2', { text: t('partyPending') })];
  if (items.length) {
    nodes.push(el('ul', { class: 'cards', id: 'party-pending' }, items.map((v) => el('li', { class: 'card' },
      link(`#/c/${v.submission_id}`, t('partyTitle'), 'card-link'), el('p', { class: 'meta', text: `${t('receiptNo')}: ${v.receipt_number}` })))));
  }
  nodes.push(el('p', {}, link('#/c', t('partyEnterCode'), 'btn btn-secondary')));
  return nodes;
}
