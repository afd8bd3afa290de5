// #/k: 「窓口で見せるコード」, a 6-character code (and the same as a QR code, which a counter's USB scanner types
// into the clerk's input) that lets the clerk find the resident's account at the counter; #/k/{draft}: the
// code carries that draft's or life event's answers (a pre-entry: the clerk checks them instead of typing).
// Making a code needs the network (POST /api/me/counter-code, docs/api.md "Counter codes"); a code made is kept on
// this device until it expires, so it can be shown again offline. Strings: strings-counter.js.

import { t, tx, getLang, addStrings } from './i18n.js';
import { STRINGS } from './strings-counter.js';
import { store } from './db.js';
import { api } from './api.js';
import { el } from './dom.js';
import { jst } from './statuses.js';
import { state, can, link } from './shell.js';
import { preentryOf, codeGroups, spelled, live } from './counter.js';
import { qrImage } from './qr.js';

addStrings(STRINGS);

// Per account: another resident signing in on this device never sees a code that is not theirs.
const keyOf = () => `counterCode:${state.session.account.id}`;
/** The draft (or life event) the code carries, with its title; null when none was asked for or it is gone. */
async function pickedDraft(id) {
  if (!id) return null;
  const d = await store.get('drafts', id);
  if (!d || d.submitted_as) return undefined;
  const parts = {};
  for (const pid of d.kind === 'bundle' ? d.drafts || [] : []) parts[pid] = await store.get('drafts', pid);
  const pre = preentryOf(d, parts);
  return pre ? { pre, title: tx(d.title) || d.procedure_id } : undefined;
}

export async function render(view, params) {
  const { main } = view;
  view.setPage(t('counterTitle'));
  if (!state.session.signed_in) {
    main.append(el('p', { text: t('counterSignin') }), el('p', {}, link('#/signin', t('signin'), 'btn')));
    return;
  }
  if (!can('counter_code')) { main.append(el('p', { text: t('counterNotResident') })); return; }
  const picked = await pickedDraft(params.draft);
  main.append(el('p', { text: t('counterText') }));
  if (picked) main.append(el('p', { class: 'notice', text: t('counterWith', { title: picked.title }) }));
  else if (picked === undefined) main.append(el('p', { class: 'notice warning', text: t('counterNoDraft') }));
  const shown = el('div', { id: 'counter-code-box', 'aria-live': 'polite' });
  const msg = el('p', { class: 'error-text', id: 'counter-error', role: 'alert' });
  const make = el('button', { type: 'button', class: 'btn', id: 'counter-make', text: t('counterMake') });
  const revoke = el('button', { type: 'button', class: 'btn-link', id: 'counter-revoke', text: t('counterRevoke') });
  const draw = (saved) => {
    const ok = live(saved);
    make.textContent = ok ? t('counterRemake') : t('counterMake');
    revoke.hidden = !ok;
    if (!ok) { shown.replaceChildren(saved ? el('p', { text: t('counterExpired') }) : ''); return; }
    shown.replaceChildren(
      el('h2', { id: 'counter-code-label', text: t('counterCode') }),
      el('p', { class: 'counter-code', id: 'counter-code', tabindex: '-1', 'aria-describedby': 'counter-code-label' },
        el('span', { 'aria-hidden': 'true', text: codeGroups(saved.code) }),
        el('span', { class: 'visually-hidden', text: t('counterSpelled', { chars: spelled(saved.code) }) })),
      qrImage(saved.qr, t('counterQr')),
      el('p', { id: 'counter-until', text: t('counterUntil', { until: jst(saved.expires_at, getLang()) }) }),
      el('p', { class: 'hint', text: t('counterOnce') }),
      // replaceChildren, unlike el(), prints a null: no pre-entry adds nothing.
      ...(saved.title ? [el('p', { class: 'meta', text: t('counterWith', { title: saved.title }) })] : []));
  };
  make.addEventListener('click', async () => {
    msg.textContent = '';
    if (!navigator.onLine) { msg.textContent = t('counterOffline'); return; }
    make.disabled = true;
    try {
      const out = await api('/api/me/counter-code', { method: 'POST', body: picked ? { preentry: picked.pre } : {} });
      const saved = { code: out.code, expires_at: out.expires_at, qr: out.qr, title: picked ? picked.title : '' };
      await store.setMeta(keyOf(), saved);
      draw(saved);
      document.getElementById('counter-code').focus();
    } catch (e) {
      msg.textContent = navigator.onLine && e && e.status !== 0 ? t('counterFailed') : t('counterOffline');
    } finally { make.disabled = false; }
  });
  revoke.addEventListener('click', async () => {
    msg.textContent = '';
    if (!navigator.onLine) { msg.textContent = t('counterOffline'); return; }
    try {
      await api('/api/me/counter-code', { method: 'DELETE' });
      await store.setMeta(keyOf(), null);
      draw(null);
      shown.replaceChildren(el('p', { text: t('counterRevoked') }));
    } catch { msg.textContent = t('counterFailed'); }
  });
  // Offline from the start: say so before the resident presses anything (a code made earlier still shows).
  if (!navigator.onLine) msg.textContent = t('counterOffline');
  main.append(shown, msg, el('div', { class: 'actions' }, make, revoke, link('#/', t('toHome'), 'btn-link')));
  draw((await store.getMeta(keyOf())) || null);
}
