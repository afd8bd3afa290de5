// The signed-in account's page (#/signin once signed in): passkeys (name, add, remove), a new set of
// recovery codes (residents), sign out here or everywhere. Every change is made and checked by the server.
// Adding or removing a passkey and new recovery codes need a fresh passkey check: when the server answers
// 403 reauth-required, the page says why and offers one button that does the check, then the change.

import { api, ApiError } from './api.js';
import { t, getLang } from './i18n.js';
import { el } from './dom.js';
import { store } from './db.js';
import { stopNotifications, jst } from './statuses.js';
import { parseCreationOptions, parseRequestOptions, credentialToJSON, unwrapOptions } from './webauthn.js';

function reason(e) { return e instanceof ApiError ? e.message : (e && e.name) || String(e); }

// The day in Japan time (a passkey registered at 05:28 JST is registered that day, not the UTC day before).
function day(iso) { return iso ? jst(iso, getLang(), { time: false }) : t('never'); }

function needsReauth(e) {
  return e instanceof ApiError && e.status === 403 && /\/reauth-required$/.test(String((e.problem && e.problem.type) || ''));
}

/** The fresh passkey check: a user-verified assertion with one of this account's passkeys. */
async function reauthenticate() {
  const opts = await api('/auth/reauth/options', { method: 'POST', body: {} });
  const cred = await navigator.credentials.get({ publicKey: parseRequestOptions(unwrapOptions(opts)) });
  await api('/auth/reauth/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred) } });
}

/**
 * Fill `main` with the account's settings. `account` is the session's account; `signedOut` runs after a
 * sign-out (here or everywhere), with the page still to be left. `fresh`: the id of the passkey just made
 * by a recovery with a code, marked so that the lost one is told apart (they may have the same name).
 */
export async function accountPage(main, account, { signedOut, fresh = null }) {
  const status = el('p', { role: 'status', id: 'account-status' });
  const say = (text) => { status.textContent = text; };
  const guard = async (fn) => { say(''); try { await fn(); } catch (e) { say(t('accountFailed', { reason: reason(e) })); } };
  // A credential change: when the server asks for a fresh passkey check, one more tap does it and then `fn`.
  const reauthBox = el('div', { id: 'reauth', class: 'notice', hidden: true });
  const changing = (fn) => guard(async () => {
    reauthBox.hidden = true;
    try { await fn(); } catch (e) {
      if (!needsReauth(e)) throw e;
      const go = el('button', { type: 'button', class: 'btn', id: 'reauth-confirm', text: t('reauthButton') });
      go.addEventListener('click', () => guard(async () => {
        await reauthenticate();
        reauthBox.hidden = true;
        reauthBox.replaceChildren();
        await fn();
      }));
      reauthBox.replaceChildren(el('p', { text: t('reauthText') }), el('div', { class: 'actions' }, go));
      reauthBox.hidden = false;
      go.focus();
    }
  });

  const list = el('ul', { id: 'passkeys', class: 'passkeys' });
  const render = async () => {
    let keys;
    try { keys = await api('/api/me/passkeys'); } catch (e) {
      list.replaceChildren(el('li', { text: navigator.onLine ? t('accountFailed', { reason: reason(e) }) : t('accountOffline') }));
      return;
    }
    list.replaceChildren(...keys.map((k, i) => passkeyItem(k, i)));
  };
  const passkeyItem = (k, i) => {
    const id = `passkey-name-${i}`;
    const name = el('input', { id, type: 'text', value: k.name, maxlength: '100', autocomplete: 'off' });
    const rename = el('button', { type: 'submit', class: 'btn btn-secondary', text: t('passkeyRename') });
    const remove = el('button', { type: 'button', class: 'btn btn-secondary', text: t('passkeyRemove') });
    const form = el('form', { novalidate: true },
      el('div', { class: 'field' }, el('label', { for: id, text: t('passkeyName') }), name),
      el('p', { class: 'hint', text: t('passkeyDates', { created: day(k.created_at), used: day(k.last_used_at) }) }),
      el('div', { class: 'actions' }, rename, remove));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      guard(async () => {
        await api(`/api/me/passkeys/${encodeURIComponent(k.id)}`, { method: 'PATCH', body: { name: name.value.trim() } });
        say(t('passkeyRenamed'));
        await render();
      });
    });
    remove.addEventListener('click', () => changing(async () => {
      await api(`/api/me/passkeys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
      say(t('passkeyRemoved'));
      await render();
    }));
    return el('li', { 'data-fresh': k.id === fresh ? 'true' : null },
      k.id === fresh ? el('p', {}, el('span', { class: 'badge badge-ok', text: t('passkeyFresh') })) : null, form);
  };

  const add = el('button', { type: 'button', class: 'btn', id: 'add-passkey', text: t('passkeyAdd') });
  add.addEventListener('click', () => changing(async () => {
    const opts = await api('/auth/passkeys/options', { method: 'POST', body: {} });
    const cred = await navigator.credentials.create({ publicKey: parseCreationOptions(unwrapOptions(opts)) });
    await api('/auth/passkeys/verify', { method: 'POST', body: { challenge_id: opts.challenge_id, credential: credentialToJSON(cred) } }); // named by the server after this device
    say(t('passkeyAdded'));
    await render();
  }));

  main.append(el('p', { text: t('signedInAs', { name: account.display_name || '' }) }), status, reauthBox,
    el('h2', { text: t('passkeysTitle') }), el('p', { class: 'hint', text: t('passkeysText') }), list,
    el('div', { class: 'actions' }, add));

  if ((account.can || []).includes('recovery_codes')) main.append(...recoverySection(changing));

  const out = el('button', { type: 'button', class: 'btn btn-secondary', text: t('signout') });
  out.addEventListener('click', async () => {
    await stopNotifications(store); // this browser no longer gets the account's status notifications
    try { await api('/auth/logout', { method: 'POST', body: {} }); } catch { /* offline: the cookie ends with the session */ }
    await signedOut();
  });
  const everywhere = el('button', { type: 'button', class: 'btn btn-secondary', text: t('signoutAll') });
  everywhere.addEventListener('click', () => guard(async () => {
    await stopNotifications(store);
    await api('/auth/logout-all', { method: 'POST', body: {} });
    await signedOut();
  }));
  main.append(el('h2', { text: t('signout') }), el('div', { class: 'actions' }, out, everywhere));
  await render();
}

// Two steps, without window.confirm: the first click says what happens, the second does it.
function recoverySection(changing) {
  const box = el('div', { id: 'recovery' });
  const ask = el('button', { type: 'button', class: 'btn btn-secondary', text: t('recoveryNew') });
  const confirm = el('button', { type: 'button', class: 'btn', text: t('recoveryConfirm'), hidden: true });
  const warning = el('p', { class: 'notice', text: t('recoveryWarning'), hidden: true });
  ask.addEventListener('click', () => { warning.hidden = false; confirm.hidden = false; confirm.focus(); });
  confirm.addEventListener('click', () => changing(async () => {
    const r = await api('/auth/recovery-codes', { method: 'POST', body: {} });
    warning.hidden = true; confirm.hidden = true;
    box.replaceChildren(el('p', { text: t('recoveryText') }),
      el('ul', { id: 'recovery-codes' }, r.recovery_codes.map((c) => el('li', {}, el('code', { text: c })))));
  }));
  return [el('h2', { text: t('recoveryTitle') }), el('p', { class: 'hint', text: t('recoveryAbout') }), box,
    warning, el('div', { class: 'actions' }, ask, confirm)];
}
