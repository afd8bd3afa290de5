// #/recover: 「パスキーをなくした方」. One recovery code alone (it names the account: nobody types an account
// id) makes a new passkey on this device and signs in (POST /auth/recovery/options, the WebAuthn
// registration, POST /auth/recovery/verify; docs/security.md "Recovery codes"). Then the account page,
// where the lost passkey can be removed.

import { t, addStrings } from './i18n.js';
import { STRINGS } from './strings-recover.js';
import { api, ApiError } from './api.js';
import { el } from './dom.js';
import { parseCreationOptions, credentialToJSON, unwrapOptions } from './webauthn.js';
import { state, refreshSession, flush, link } from './shell.js';

addStrings(STRINGS);

function failure(e) {
  if (e instanceof ApiError && e.status === 429) return t('recoverThrottled');
  if (e instanceof ApiError && e.status === 401) return t('recoverWrong');
  if (e instanceof ApiError && e.status === 400 && /challenge/.test(String((e.problem && e.problem.type) || ''))) return t('recoverAgain');
  if (e && e.name === 'NotAllowedError') return t('recoverCancelled');
  // Anything else (offline, a server error): retrying is what helps.
  return t('recoverFailed', { reason: e instanceof ApiError ? e.message : (e && e.name) || String(e) });
}

export async function render(view) {
  if (state.session.signed_in && state.session.account) { location.hash = '#/signin'; return; }
  const { main } = view;
  view.setPage(t('recoverTitle'));
  const msg = el('p', { role: 'status', id: 'recover-status' });
  const code = el('input', {
    id: 'recovery-code', type: 'text', name: 'recovery_code', autocomplete: 'off', autocapitalize: 'characters',
    spellcheck: 'false', 'aria-describedby': 'recovery-code-hint', maxlength: '60',
  });
  const submit = el('button', { type: 'submit', class: 'btn', id: 'recover-submit', text: t('recoverSubmit') });
  const form = el('form', { novalidate: true, id: 'recover-form' },
    el('div', { class: 'field' }, el('label', { for: 'recovery-code', text: t('recoveryCode') }),
      el('p', { class: 'hint', id: 'recovery-code-hint', text: t('recoveryCodeHint') }), code),
    el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    if (!code.value.trim()) { msg.textContent = t('recoverEmpty'); code.focus(); return; }
    submit.disabled = true;
    try {
      const opts = await api('/auth/recovery/options', { method: 'POST', body: { code: code.value } });
      const cred = await navigator.credentials.create({ publicKey: parseCreationOptions(unwrapOptions(opts)) });
      // No name: the server names it after this device and browser (the resident can rename it).
      const done = await api('/auth/recovery/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred) } });
      await refreshSession();
      await flush(true);
      location.hash = `#/signin?recovered=${encodeURIComponent(done.passkey.id)}`;
    } catch (err) {
      msg.textContent = failure(err);
      code.focus();
    } finally { submit.disabled = false; }
  });
  main.append(el('p', { text: t('recoverText') }));
  if (!navigator.onLine) main.append(el('p', { class: 'notice', text: t('signinOffline') }));
  main.append(form, msg, el('p', { class: 'hint', text: t('recoverNoCode') }), el('p', {}, link('#/signin', t('recoverBack'))));
}
