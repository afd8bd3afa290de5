// #/s/{id}: a submission, queued or received: its state, its files, the receipt number, and once received its
// timeline (times in JST, status labels, the messages staff marked for the resident), the reply form while
// the city asks for more information (queued offline like a submission: `submission.respond`, docs/sync.md),
// and the 「通知を受け取る」 button (Web Push, asked only on that tap).

import { t, tx, getLang, addStrings } from './i18n.js';
import { STRINGS } from './strings-follow.js';
import { store } from './db.js';
import { api } from './api.js';
import { el } from './dom.js';
import { saveBlob } from './drafts.js';
import { queueResponse } from './sync.js';
import { markSeen, jst, pushPossible, pushSubscription } from './statuses.js';
import { state, link, statusBadge, itemStateText, route, steps, flush, uuid } from './shell.js';

addStrings(STRINGS);

/** The outbox entries (or attention items) of a submission, its receipt and its files. */
async function submissionState(id) {
  return store.tx(['outbox', 'attention', 'submissions', 'blobs', 'drafts'], 'readonly', async (tr) => {
    const entries = [...(await tr.all('outbox')), ...(await tr.all('attention'))].filter((e) => e.type === 'submission' && e.rid === id)
      .sort((a, b) => b.seq - a.seq);
    const entry = entries.find((e) => e.kind !== 'submission.respond') || null;
    const reply = entries.find((e) => e.kind === 'submission.respond') || null;
    const receipt = await tr.get('submissions', id);
    const files = (await tr.all('blobs')).filter((b) => (b.owners || []).includes(id));
    const draft = (await tr.all('drafts')).find((x) => x.submission_id === id && !x.submitted_as) || null;
    return { entry, reply, receipt, files, draft };
  });
}

// Residents see only their own account id as an actor (docs/api.md): a reply is their step back to review.
const isReply = (h) => h.from_status === 'needs_info' && h.to_status === 'in_review' && Boolean(h.actor) && h.actor === (state.session.account || {}).id;

function timeline(receipt) {
  const history = receipt.history || [];
  if (!history.length) return null;
  return el('section', { 'aria-labelledby': 'timeline-title' },
    el('h2', { id: 'timeline-title', text: t('timeline') }),
    el('ol', { class: 'timeline', id: 'timeline' }, history.map((h) => {
      const reply = isReply(h);
      return el('li', { 'data-status': h.to_status || '' },
        el('time', { datetime: h.at, text: jst(h.at, getLang()) }), ' ',
        el('strong', { text: reply ? t('tl_reply') : t(`status_${h.to_status}`) }),
        h.comment ? el('p', { class: reply ? 'reply-text' : 'city-message' }, el('span', { class: 'meta', text: `${reply ? t('yourReply') : t('fromCity')}：` }), h.comment) : null,
        (h.files || []).length ? el('ul', { class: 'meta' }, h.files.map((f) => el('li', { text: f.name || f.sha256.slice(0, 12) }))) : null);
    })));
}

/** The current status in one plain sentence with the city's message; rejected (or completed after a rejection) with the reason. */
function statusBox(receipt) {
  const status = receipt.status || 'received';
  const rejected = (receipt.history || []).filter((h) => h.to_status === 'rejected').pop();
  // The message that came with the current status (what is asked, what was done); a rejection's is its reason.
  const asked = status === 'rejected' ? null : (receipt.history || []).filter((h) => h.to_status === status && !isReply(h)).pop();
  return el('div', { class: 'notice', id: 'status-now' },
    el('p', {}, `${t('statusNow')}: `, statusBadge(status)),
    t(`st_${status}`) !== `st_${status}` ? el('p', { text: t(`st_${status}`) }) : null, // a status of another flow: its badge only
    rejected && rejected.comment ? el('p', { id: 'reject-reason', text: t('reasonIs', { reason: rejected.comment }) }) : null,
    asked && asked.comment ? el('p', { class: 'city-message', id: 'city-message' }, el('span', { class: 'meta', text: `${t('fromCity')}：` }), asked.comment) : null);
}

function replyForm(receipt, view) {
  const text = el('textarea', { id: 'reply-text', rows: '4', maxlength: '4000' });
  const files = el('input', { id: 'reply-files', type: 'file', multiple: true, accept: 'image/jpeg,image/png,image/heic,application/pdf' });
  const error = el('p', { class: 'error-text', id: 'reply-error', 'aria-live': 'polite' });
  const form = el('form', { id: 'reply-form', novalidate: true },
    el('h2', { text: t('replyTitle') }),
    el('div', { class: 'field' }, el('label', { for: 'reply-text', text: t('replyText') }), text),
    el('div', { class: 'field' }, el('label', { for: 'reply-files', text: t('replyFiles') }), files),
    error,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn', text: t('replySend') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const comment = text.value.trim();
    const chosen = [...files.files];
    if (!comment && !chosen.length) { error.textContent = t('replyEmpty'); text.focus(); return; }
    const saved = [];
    for (const f of chosen) saved.push(await saveBlob(store, f));
    const response = { id: uuid(), files: saved.map(({ sha256, size, name, type }) => ({ sha256, size, name, type: type || null })) };
    if (comment) response.comment = comment;
    await queueResponse(store, { submission_id: receipt.id, response, label: { kind: 'submission', title: receipt.title || null, procedure_id: receipt.procedure_id }, blobs: saved.map((f) => f.sha256) });
    flush(true);
    if (view.current()) route(false);
  });
  return form;
}

/** 「通知を受け取る」: the permission prompt only on this tap, then the browser's subscription to the server. */
async function notifyButton() {
  if (!state.session.signed_in || !pushPossible()) return null;
  if (Notification.permission === 'denied') return el('p', { class: 'hint', text: t('notifyBlocked') });
  if (Notification.permission === 'granted' && (await store.getMeta('push_endpoint'))) return el('p', { class: 'hint', id: 'notify-state', text: t('notifyDone') });
  const note = el('p', { class: 'hint', id: 'notify-state', 'aria-live': 'polite', text: t('notifyHint') });
  const btn = el('button', { type: 'button', class: 'btn btn-secondary', id: 'notify-on', text: t('notifyOn') });
  btn.addEventListener('click', async () => {
    try {
      const sub = await pushSubscription();
      if (!sub) { note.textContent = t('notifyBlocked'); return; }
      await api('/api/push/subscriptions', { method: 'POST', body: sub.toJSON() });
      await store.setMeta('push_endpoint', sub.endpoint);
      note.textContent = t('notifyDone');
      btn.remove();
    } catch (e) {
      console.error(e);
      note.textContent = t('notifyFailed');
    }
  });
  return el('div', { class: 'field' }, btn, note);
}

export async function render(view, { id }) {
  let { entry, reply, receipt, files, draft } = await submissionState(id);
  const needsSignin = await store.getMeta('needs_signin');
  let offline = false;
  if (receipt && receipt.receipt_number && state.session.signed_in) {
    try {
      const detail = await api(`/api/submissions/${encodeURIComponent(id)}`);
      receipt = { ...receipt, ...detail };
      await store.put('submissions', receipt);
      await markSeen(store, id, detail.updated_at);
    } catch { offline = true; } // offline (or gone): what was loaded before
  }
  const sent = Boolean(receipt && receipt.receipt_number);
  const status = sent ? receipt.status || 'received' : null;
  const failed = entry && entry.state === 'failed';
  const { main } = view;
  const h1 = view.setPage(sent ? (status === 'received' ? t('doneTitle') : t(`status_${status}`)) : failed ? t('sendFailedTitle') : t('queuedTitle'));
  if (!sent || status === 'received') h1.before(steps(2));
  const title = (entry && entry.label && entry.label.title) || (receipt && receipt.title);
  if (title) main.append(el('p', { class: 'meta', text: tx(title) }));
  if (sent) {
    main.append(el('p', { class: 'receipt' }, `${t('receiptNo')}: `, el('span', { id: 'receipt-number', text: receipt.receipt_number })), statusBox(receipt));
    if (status === 'received') main.append(el('p', { text: t('doneNext') }));
    const replyPending = reply && (reply.state === 'waiting' || reply.state === 'sending');
    if (replyPending) main.append(el('p', { class: 'notice', id: 'reply-state', text: t('replyQueued') }));
    else if (reply && reply.state === 'failed') main.append(el('p', { class: 'error-text', id: 'reply-state', text: t('replyFailed', { reason: reply.message || reply.reason }) }));
    else if (reply && status === 'needs_info') main.append(el('p', { class: 'notice', id: 'reply-state', text: t('replySent') }));
    if (status === 'needs_info' && (!reply || reply.state === 'failed')) main.append(replyForm(receipt, view));
    if (offline && receipt.history) main.append(el('p', { class: 'hint', text: t('timelineOffline') }));
    const tl = timeline(receipt);
    if (tl) main.append(tl);
    const notify = await notifyButton();
    if (notify) main.append(notify);
  } else if (failed) {
    main.append(el('p', { class: 'error-text', id: 'item-state', text: itemStateText(entry) }));
    if (draft) main.append(el('p', {}, link(`#/d/${draft.id}/review`, t('fixAndResend'), 'btn')));
  } else {
    main.append(el('p', { text: t('queuedText') }), el('p', { id: 'item-state', class: 'meta', text: itemStateText(entry) }));
  }
  const waitingFiles = files.filter((f) => f.queued && !f.uploaded);
  if (waitingFiles.length) {
    main.append(el('p', { class: 'meta', id: 'files-state', text: waitingFiles.some((f) => f.failed) ? t('fileFailed') : t('filesUploading', { done: files.length - waitingFiles.length, total: files.length }) }));
  }
  // A two-person procedure's first part: the other person confirms theirs (parties-ui.js, loaded only here).
  if (sent && receipt.status === 'awaiting_partner') {
    main.append((await import('./parties-ui.js')).partiesBlock(id, offline ? null : receipt));
  }
  if (!sent && needsSignin) main.append(el('p', {}, link('#/signin', t('signin'))));
  main.append(el('div', { class: 'actions' }, link('#/', t('toHome'), 'btn btn-secondary')));
  const sig = (x) => JSON.stringify([x.entry && x.entry.state, x.reply && x.reply.state, Boolean(x.receipt && x.receipt.receipt_number), x.receipt && x.receipt.status, x.files.filter((f) => f.uploaded).length]);
  const shownSig = sig({ entry, reply, receipt, files });
  view.onOutbox(async () => {
    if (location.hash !== `#/s/${id}`) return;
    if (sig(await submissionState(id)) !== shownSig) route(false);
  });
}
