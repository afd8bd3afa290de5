// #/c: the other person of a two-person procedure (婚姻届's partner). Without an id: enter the one-time code
// the first filer gave you (or open their link, #/c?code=...). #/c/{submission}: the shared application as
// the form shows it, your own part prefilled from your own resident record, 送信 files the whole (docs/api.md,
// "Procedures for two people"). Online only: the server must see the application still waiting; what you type
// is kept on this device until it goes through.

import { t, tx, addStrings } from './i18n.js';
import { STRINGS } from './strings-parties.js';
import { store } from './db.js';
import { api } from './api.js';
import { el } from './dom.js';
import { partOf } from './parties.js';
import { renderFields, applyResult, domId } from './render.js';
import { isShown, topOf } from './paths.js';
import { newDraftRecord, submissionOf } from './drafts.js';
import { state, loadIndex, loadJSON, loadProfile, link, statusBadge, uuid, route } from './shell.js';
import { makeCtx, evalForm, errorSummary, errorLine, focusField, dedupe } from './formview.js';
import { reviewList } from './formreview.js';
import { foldedFields } from './steps.js';

addStrings(STRINGS);

const problemText = (e) => {
  const slug = e && e.problem && typeof e.problem.type === 'string' ? e.problem.type.split('/').pop() : '';
  const key = `party_${slug.replace(/-/g, '_')}`;
  return t(key) !== key ? t(key) : navigator.onLine ? t('partyFailed') : t('offline');
};

function codeForm(view, query) {
  const { main } = view;
  view.setPage(t('partyCodeTitle'));
  main.append(el('p', { text: t('partyCodeText') }));
  const input = el('input', { id: 'party-code', name: 'code', autocomplete: 'one-time-code', autocapitalize: 'characters', spellcheck: 'false', value: query.get('code') || '', 'aria-describedby': 'party-code-hint' });
  const msg = el('p', { class: 'error-text', id: 'party-code-error', role: 'alert' });
  const form = el('form', { novalidate: true },
    el('div', { class: 'field' }, el('label', { for: 'party-code', text: t('partyCode') }), el('p', { class: 'hint', id: 'party-code-hint', text: t('partyCodeHint') }), input),
    msg, el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn', text: t('partyOpen') }), link('#/', t('toHome'), 'btn-link')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    if (!input.value.trim()) { msg.textContent = t('partyCodeMissing'); input.focus(); return; }
    try {
      const v = await api('/api/party-invitations/claim', { method: 'POST', body: { code: input.value.trim() } });
      location.hash = `#/c/${v.submission_id}`;
    } catch (err) { msg.textContent = problemText(err); input.focus(); }
  });
  main.append(form);
}

async function procedureOf(v) {
  const index = await loadIndex();
  const entry = index.procedures[v.procedure_id];
  const path = entry && entry.versions[v.procedure_version];
  return path ? loadJSON(path) : null;
}

export async function render(view, params, query) {
  if (!state.session.signed_in) {
    view.setPage(t('partyCodeTitle'));
    view.main.append(el('p', { text: t('partySignin') }), el('p', {}, link('#/signin', t('signin'), 'btn')));
    return;
  }
  if (!params.id) return codeForm(view, query || new URLSearchParams());
  const { main } = view;
  let v;
  try { v = await api(`/api/party-confirmations/${encodeURIComponent(params.id)}`); } catch (err) {
    view.setPage(t('partyTitle'));
    main.append(el('p', { class: 'error-text', text: problemText(err) }), el('p', {}, link('#/', t('toHome'), 'btn-link')));
    return;
  }
  const compiled = await procedureOf(v);
  view.setPage(t('partyTitle'));
  if (!compiled) { main.append(el('p', { class: 'error-text', text: t('procedureMissing') })); return; }
  const party = (compiled.parties || []).find((p) => p.id === v.party);
  main.append(el('p', { class: 'meta', text: tx(compiled.title) }),
    el('p', {}, `${t('receiptNo')}: ${v.receipt_number} `, statusBadge(v.status)));
  if (party) main.append(el('p', { class: 'notice', text: t('partyYouAre', { who: tx(party.label) }) }));
  // What the first filer wrote, as the form shows it (never their identity numbers or files: the server
  // leaves those out); read only.
  const first = partOf(compiled, '');
  main.append(el('h2', { text: t('partyShared') }), ...reviewList(first, v.shared_answers, evalForm(first, v.shared_answers), null));
  const mine = partOf(compiled, v.party);
  if (v.state !== 'claimed') {
    main.append(el('h2', { text: t('partyYours') }), ...reviewList(mine, v.answers || {}, evalForm(mine, v.answers || {}), null));
    main.append(el('p', { id: 'party-state', class: 'notice', text: v.status === 'cancelled' ? t('partyCancelled') : t('partyConfirmed') }), el('p', {}, link('#/', t('toHome'), 'btn btn-secondary')));
    return;
  }
  // Their part: kept on this device (not a synced draft) until it goes through, prefilled from their own record.
  const key = `confirm:${v.submission_id}`;
  let d = await store.getMeta(key);
  if (!d) {
    const profile = await loadProfile();
    d = newDraftRecord({ path: null, compiled }, { profile, uuid, party: v.party });
  }
  const save = () => store.setMeta(key, d);
  const form = el('form', { novalidate: true, id: 'form' });
  const summaryHolder = el('div', {});
  const box = el('div', {});
  let showAll = false;
  const ctx = makeCtx('c', d, mine, () => applyResult(box, evalForm(mine, d.answers), ctx, { showAll }), { save });
  for (const s of mine.sections) {
    // Under 「あなたの欄」; a section's own title and help speak to the first filer (「相手の方」), so only a
    // part of several sections names them.
    if (mine.sections.length > 1) box.append(el('h3', { text: tx(s.title) }));
    const sec = el('div', {});
    ctx.fold = foldedFields(s.fields || [], d, evalForm(mine, d.answers)); // their prefilled values: one line
    renderFields(sec, s.fields || [], ctx);
    box.append(sec);
  }
  applyResult(box, evalForm(mine, d.answers), ctx, { showAll });
  const msg = el('p', { class: 'error-text', id: 'party-error', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'btn', id: 'submit', text: t('submit') });
  const decline = el('button', { type: 'button', class: 'btn-link', id: 'party-decline', text: t('partyDecline') });
  form.append(summaryHolder, box, msg, el('div', { class: 'actions' }, submit, decline));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    const r = evalForm(mine, d.answers);
    showAll = true;
    applyResult(box, r, ctx, { showAll });
    const errs = (r.errors || []).filter((er) => isShown(r, er.path));
    if (errs.length) {
      const items = dedupe(errs).map((er) => ({ target: domId('c', er.path), text: errorLine(mine, er) }));
      summaryHolder.replaceChildren(errorSummary(items, (it) => focusField(it.target)));
      document.getElementById('error-summary').focus();
      return;
    }
    submit.disabled = true;
    const { submission } = submissionOf({ ...d, procedure_id: v.procedure_id, procedure_version: v.procedure_version }, mine, r, { isShown });
    try {
      await api(`/api/party-confirmations/${encodeURIComponent(v.submission_id)}`, { method: 'POST', body: { answers: submission.answers } });
      await store.setMeta(key, null);
      route(false); // the same page, now confirmed (or withdrawn)
    } catch (err) {
      submit.disabled = false;
      const fieldErrors = err && err.problem && Array.isArray(err.problem.errors) ? err.problem.errors.filter((x) => x.path && x.code !== 'other_party') : [];
      msg.textContent = fieldErrors.length ? fieldErrors.map((x) => errorLine(mine, x)).join(' ') : problemText(err);
      const first = fieldErrors[0] && document.getElementById(domId('c', topOf(fieldErrors[0].path)));
      if (first) first.focus();
    }
  });
  decline.addEventListener('click', async () => {
    if (!window.confirm(t('partyDeclineAsk'))) return;
    try {
      await api(`/api/party-confirmations/${encodeURIComponent(v.submission_id)}/cancel`, { method: 'POST' });
      await store.setMeta(key, null);
      route(false); // the same page, now confirmed (or withdrawn)
    } catch (err) { msg.textContent = problemText(err); }
  });
  main.append(el('h2', { text: t('partyYours') }), el('p', { class: 'hint', text: t('partyYoursHint') }), form);
}
