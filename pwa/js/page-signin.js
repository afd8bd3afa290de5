// #/signin: sign in or register with a passkey; once signed in, the account's page (account.js).

import { t, addStrings } from './i18n.js';
import { STRINGS } from './strings-recover.js';
import { api, ApiError } from './api.js';
import { el } from './dom.js';
import { parseCreationOptions, parseRequestOptions, credentialToJSON, unwrapOptions } from './webauthn.js';
import { accountPage } from './account.js';
import { state, setActingFor, refreshSession, flush, focusTitle, link } from './shell.js';

addStrings(STRINGS);

async function withStatus(msg, fn) {
  msg.textContent = '';
  try { await fn(); } catch (e) {
    msg.textContent = t('signinFailed', { reason: e instanceof ApiError ? e.message : (e && e.name) || String(e) });
  }
}

async function afterSignin(view, recoveryCodes) {
  await refreshSession();
  await flush(true); // items that waited for sign-in go now
  if (recoveryCodes && recoveryCodes.length) {
    view.setPage(t('recoveryTitle'));
    view.main.append(el('p', { text: t('recoveryText') }), el('ul', { id: 'recovery-codes' }, recoveryCodes.map((c) => el('li', {}, el('code', { text: c })))),
      el('div', { class: 'actions' }, link('#/', t('toHome'), 'btn')));
    focusTitle();
    return;
  }
  location.hash = '#/';
}

export async function render(view, params, query) {
  const { main } = view;
  const acc = state.session.signed_in && state.session.account;
  if (acc) {
    view.setPage(t('accountTitle'));
    // Just recovered with a code: the new passkey is listed with the old ones; say what to do with the lost one.
    if (query && query.get('recovered')) main.append(el('p', { class: 'notice', id: 'recovered', text: t('recovered') }));
    await accountPage(main, acc, {
      fresh: query && query.get('recovered'),
      signedOut: async () => {
        setActingFor(null);
        await refreshSession();
        location.hash = '#/';
      },
    });
    return;
  }
  view.setPage(t('signinTitle'));
  const msg = el('p', { role: 'status', id: 'signin-status' });
  main.append(el('p', { text: t('signinText') }));
  if (!navigator.onLine) main.append(el('p', { class: 'notice', text: t('signinOffline') }));
  const login = el('button', { type: 'button', class: 'btn', id: 'signin-passkey', text: t('signinPasskey') });
  login.addEventListener('click', () => withStatus(msg, async () => {
    const opts = await api('/auth/login/options', { method: 'POST', body: {} });
    const cred = await navigator.credentials.get({ publicKey: parseRequestOptions(unwrapOptions(opts)) });
    await api('/auth/login/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred) } });
    await afterSignin(view);
  }));
  const name = el('input', { id: 'display-name', type: 'text', autocomplete: 'nickname', name: 'display_name' });
  const reg = el('form', { novalidate: true, id: 'register-form' }, el('h2', { text: t('register') }),
    el('div', { class: 'field' }, el('label', { for: 'display-name', text: t('displayName') }), name),
    el('button', { type: 'submit', class: 'btn btn-secondary', id: 'register', text: t('register') }));
  reg.addEventListener('submit', (e) => {
    e.preventDefault();
    withStatus(msg, async () => {
      const opts = await api('/auth/register/options', { method: 'POST', body: { display_name: name.value.trim() || 'resident' } });
      const cred = await navigator.credentials.create({ publicKey: parseCreationOptions(unwrapOptions(opts)) });
      const r = await api('/auth/register/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred) } });
      await afterSignin(view, r.recovery_codes);
    });
  });
  const lost = el('p', { class: 'lost-passkey' }, link('#/recover', t('recoverLink')));
  main.append(el('div', { class: 'actions' }, login), msg, lost, reg);
}
