// #/s/{id}: a submission, queued or received: its state, its files, the receipt number.

import { t, tx } from './i18n.js';
import { store } from './db.js';
import { el } from './dom.js';
import { link, statusBadge, itemStateText, route, steps } from './shell.js';

/** The outbox entry (or attention item) of a submission, its receipt and its files. */
async function submissionState(id) {
  return store.tx(['outbox', 'attention', 'submissions', 'blobs', 'drafts'], 'readonly', async (tr) => {
    const entries = [...(await tr.all('outbox')), ...(await tr.all('attention'))].filter((e) => e.type === 'submission' && e.rid === id);
    const entry = entries.sort((a, b) => b.seq - a.seq)[0] || null;
    const receipt = await tr.get('submissions', id);
    const files = (await tr.all('blobs')).filter((b) => (b.owners || []).includes(id));
    const draft = (await tr.all('drafts')).find((x) => x.submission_id === id && !x.submitted_as) || null;
    return { entry, receipt, files, draft };
  });
}

export async function render(view, { id }) {
  const { entry, receipt, files, draft } = await submissionState(id);
  const needsSignin = await store.getMeta('needs_signin');
  const sent = Boolean(receipt && receipt.receipt_number);
  const failed = entry && entry.state === 'failed';
  const { main } = view;
  view.setPage(sent ? t('doneTitle') : failed ? t('sendFailedTitle') : t('queuedTitle')).before(steps(2));
  const title = (entry && entry.label && entry.label.title) || (receipt && receipt.title);
  if (title) main.append(el('p', { class: 'meta', text: tx(title) }));
  if (sent) {
    main.append(el('p', { class: 'receipt' }, `${t('receiptNo')}: `, el('span', { id: 'receipt-number', text: receipt.receipt_number })),
      el('p', {}, statusBadge(receipt.status || 'received')), el('p', { text: t('doneNext') }));
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
  if (!sent && needsSignin) main.append(el('p', {}, link('#/signin', t('signin'))));
  main.append(el('div', { class: 'actions' }, link('#/', t('toHome'), 'btn btn-secondary')));
  const sig = (x) => JSON.stringify([x.entry && x.entry.state, Boolean(x.receipt && x.receipt.receipt_number), x.files.filter((f) => f.uploaded).length]);
  const shownSig = sig({ entry, receipt, files });
  view.onOutbox(async () => {
    if (location.hash !== `#/s/${id}`) return;
    if (sig(await submissionState(id)) !== shownSig) route(false);
  });
}
