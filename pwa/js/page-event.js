// #/e/{event}: the life-event navigator: a few yes/no questions, the procedures that apply, what to bring
// for all of them, and one combined form (a bundle draft).

import { t, tx } from './i18n.js';
import { store } from './db.js';
import { el } from './dom.js';
import { evaluate, japanToday as today } from './expr.js';
import { visibleQuestions, applicableProcedures, documentsFor, mergeDocuments, startBundle, answeredQuestions } from './lifeevent.js';
import { aboutTime } from './steps.js';
import { isClosed } from './closing.js';
import { consoleLink } from './console-link.js';
import { loadIndex, loadJSON, latestProcedure, readJSON, writeJSON, uuid, isStaff, actingFor, newDraft, filerProfile, drafts, link, notFound, mayFile } from './shell.js';

export async function render(view, { event: id }) {
  const index = await loadIndex();
  const entry = (index.life_events || {})[id];
  if (!entry) return notFound(view);
  const path = entry.versions[entry.latest];
  const ev = await loadJSON(path);
  const { main } = view;
  view.setPage(tx(ev.title));
  if (ev.description) main.append(el('p', { text: tx(ev.description) }));
  const answers = readJSON(`madoguchi.event.${id}`) || {};
  // A question the records answer (`prefill`: a yes/no profile attribute, e.g. has_child_under_18) starts, when
  // unanswered, with the profile's value, marked 「登録情報から推定」 until the resident answers it themselves.
  const guessed = new Set();
  const known = ev.questions.some((q) => q.prefill) ? ((await filerProfile().catch(() => null)) || {}).profile || {} : {};
  for (const q of ev.questions) {
    if (typeof known[q.prefill] === 'boolean' && typeof answers[q.id] !== 'boolean') { answers[q.id] = known[q.prefill]; guessed.add(q.id); }
  }
  const qBox = el('div', {});
  const outBox = el('div', { id: 'event-result' });
  main.append(el('h2', { text: t('questions') }), qBox, outBox);
  const drawQuestions = () => {
    qBox.replaceChildren();
    for (const q of visibleQuestions(ev, answers, evaluate, today())) {
      const qid = `q-${q.id}`;
      const fs = el('fieldset', { class: 'field' }, el('legend', { text: tx(q.label) }));
      if (q.help) fs.append(el('p', { class: 'hint', text: tx(q.help) }));
      if (guessed.has(q.id)) fs.append(el('p', { class: 'prefilled', text: t('prefilledDerived') }));
      const box = el('div', { class: 'choices' });
      [[true, t('yes')], [false, t('no')]].forEach(([v, label], i) => {
        const input = el('input', { type: 'radio', name: qid, id: `${qid}-${i}`, checked: answers[q.id] === v });
        input.addEventListener('change', () => { answers[q.id] = v; guessed.delete(q.id); writeJSON(`madoguchi.event.${id}`, answers); drawQuestions(); drawResult(); });
        box.append(el('label', { class: 'choice', for: input.id }, input, el('span', { text: label })));
      });
      fs.append(box);
      qBox.append(fs);
    }
  };
  const drawResult = async () => {
    const procs = applicableProcedures(ev, answers, evaluate, today());
    const listed = [];
    for (const p of procs) {
      const lp = await latestProcedure(p.procedure).catch(() => null);
      if (lp) listed.push({ ...p, ...lp });
    }
    // One past its scheduled close (closing.js) is listed, marked 受付終了, and left out of the combined form.
    const loaded = listed.filter((p) => !isClosed(p.compiled.closes_at));
    const docs = mergeDocuments(loaded.map((p) => ({ procedure: p.procedure, documents: documentsFor(p.compiled, {}, evaluate, today()) })));
    const start = el('button', { type: 'button', class: 'btn', text: t('combinedStart') });
    start.addEventListener('click', async () => {
      const bundleId = uuid();
      // The answers that chose these procedures: a question's maps_to fills a procedure's field from them.
      const questions = answeredQuestions(ev, answers, evaluate, today());
      const { parts, shared, prefilled } = await startBundle(ev, loaded, questions, {
        readProfile: filerProfile, makeDraft: (p, profile) => newDraft(p, { bundle_id: bundleId }, profile),
        save: (d) => drafts.save(d, { full: true }),
      });
      const acting = isStaff() ? actingFor() : null;
      await store.put('drafts', {
        id: bundleId, kind: 'bundle', event_id: id, event_version: entry.latest, event_path: path, title: ev.title, shared, prefilled, typed: [],
        questions,
        drafts: parts.map((d) => d.id), updated_at: Date.now(), raw: {}, on_behalf_name: acting ? acting.name : null, seen: {},
      });
      drafts.schedule(bundleId);
      location.hash = `#/b/${bundleId}`;
    });
    // The build's estimate for exactly these procedures together (estimate_seconds: "a,b" -> seconds).
    const about = aboutTime((ev.estimate_seconds || {})[loaded.map((p) => p.procedure).join(',')]);
    // replaceChildren (unlike el()) renders a null as the text "null": the absent parts are dropped first.
    outBox.replaceChildren(...[
      el('h2', { text: t('applies') }),
      about && loaded.length ? el('p', { class: 'estimate', id: 'estimate', text: t('takes', { time: t(about.key, { n: about.n }) }) }) : null,
      el('ul', { class: 'cards' }, listed.map((p) => el('li', { class: 'card' }, link(`#/p/${p.procedure}`, tx(p.compiled.title), 'card-link'),
        loaded.includes(p) ? null : el('p', {}, el('span', { class: 'badge badge-warn', text: t('closedBadge') })), p.reason ? el('p', { text: tx(p.reason) }) : null))),
      docs.length ? el('h2', { text: t('documents') }) : null,
      docs.length ? el('ul', {}, docs.map((x) => el('li', { text: tx(x.label) }))) : null,
      loaded.length && mayFile() ? el('div', { class: 'actions' }, start) : null,
      loaded.length && !mayFile() ? el('p', { class: 'notice', text: t('cannotFile') }, ' ', consoleLink('btn-link')) : null].filter(Boolean));
  };
  drawQuestions();
  drawResult();
}
