// The interview screen's live list of procedures (server/console/interview_pages.py): as the clerk answers
// the life event's questions, each procedure of the list is shown as included or not, with the SAME rule as
// the resident's bundle: pwa/js/lifeevent.js applicableProcedures over pwa/js/expr.js evaluate (served here as
// they are, no copy). Procedures added or removed by hand keep that choice. A procedure's field shown on a
// condition (show_if) appears and hides as its answers change, read as filing will (its own fields, then the
// shared fields and questions its data-maps names; a field of a group's item by that item's answers). Without
// this file 「更新」 asks the server, which decides the same (server/interview_plan.py). Enter in a field never submits the form;
// Ctrl+Enter anywhere in it is 「聞き取りを終えて申請する」.
import { evaluate, japanToday } from './expr.js';
import { evaluateForm } from './form.js';
import { applicableProcedures, sharedRequired, truthy } from './lifeevent.js';
import { pickPerson } from './people.js';

const form = document.getElementById('interview');

function questionAnswers() {
  const out = {};
  for (const fs of form.querySelectorAll('fieldset[data-question]')) {
    const picked = fs.querySelector('input:checked');
    out[fs.dataset.question] = picked ? picked.value === 'yes' : null;
  }
  return out;
}

/** The value of one field's inputs (.field[data-field]) in the shape filing stores; null: no answer. */
function fieldValue(div) {
  const name = div.dataset.field;
  const kind = div.dataset.kind;
  const inputs = [...div.querySelectorAll('input, select, textarea')].filter((el) => el.name === name || el.name.startsWith(`${name}.`));
  if (kind === 'yesno') {
    const c = inputs.find((el) => el.checked);
    return c ? c.value === 'yes' : null;
  }
  if (kind === 'radio') {
    const c = inputs.find((el) => el.checked);
    return c ? c.value : null;
  }
  if (kind === 'checks') return inputs.filter((el) => el.checked).map((el) => el.value);
  if (kind === 'members') return inputs.filter((el) => el.checked && el.name === name).map(() => ({}));
  if (kind === 'rows') return inputs.filter((el) => el.name === `${name}._row`).map(() => ({}));
  if (kind === 'name' || kind === 'address') {
    const out = {};
    for (const el of inputs) if (el.value.trim()) out[el.name.slice(name.length + 1)] = el.value.trim();
    return Object.keys(out).length ? out : null;
  }
  const el = inputs[0];
  if (!el || !el.value.trim()) return null;
  return div.dataset.number && !Number.isNaN(Number(el.value)) ? Number(el.value) : el.value.trim();
}

function conditions(answersQ, included) {
  const today = japanToday();
  const byProcedure = {}; // each procedure's answers as filing reads them
  for (const section of document.querySelectorAll('section.procedure[data-procedure]')) {
    const answers = {};
    byProcedure[section.dataset.procedure] = answers;
    for (const div of section.querySelectorAll('.field[data-field]')) {
      const v = fieldValue(div);
      if (v !== null) answers[div.dataset.field.split('.').slice(1).join('.')] = v;
    }
    for (const [target, source] of Object.entries(JSON.parse(section.dataset.maps || '{}'))) {
      if (source.startsWith('q.')) {
        const v = answersQ[source.slice(2)];
        if (typeof v === 'boolean') answers[target] = v;
      } else {
        const div = document.querySelector(`.field[data-field="${source}"]`);
        const v = div ? fieldValue(div) : null;
        if (v === null) delete answers[target]; else answers[target] = v;
      }
    }
    // A field of a group's item (a person's, a row's) reads that item's answers, as the validator does; a
    // condition that cannot be decided counts as the form engine counts it (show_if shown, required_if not).
    const holds = (div, ast, onError) => {
      const item = div.closest('[data-item]');
      try { return truthy(evaluate(JSON.parse(ast), item ? itemAnswers(item) : answers, { today })); } catch { return onError; }
    };
    for (const div of section.querySelectorAll('.field[data-show-if]')) div.hidden = !holds(div, div.dataset.showIf, true);
    // A document of 「窓口で確認した書類」 required on a condition: offered while it holds (undecidable: not).
    for (const el of section.querySelectorAll('[data-doc-if]')) el.hidden = !holds(el, el.dataset.docIf, false);
    for (const div of section.querySelectorAll('.field[data-required-if]')) {
      const req = div.querySelector('.req');
      if (req) req.hidden = !holds(div, div.dataset.requiredIf, false);
    }
  }
  markRequired(byProcedure, included);
}

// Each procedure's compiled form (the public GET /api/procedures/{id}/{version}), fetched once: the markers follow
// the form engine itself (pwa/js/form.js, the twin of the server's), not a second rule.
const compiled = new Map();

async function loadForms() {
  await Promise.all([...document.querySelectorAll('section.procedure[data-procedure][data-version]')].map(async (s) => {
    try {
      const r = await fetch(`/api/procedures/${encodeURIComponent(s.dataset.procedure)}/${encodeURIComponent(s.dataset.version)}`);
      if (r.ok) compiled.set(s.dataset.procedure, await r.json());
    } catch { /* offline or refused: the markers stay as the server rendered them */ }
  }));
  refresh();
}

/**
 * （必須） exactly where filing will refuse an empty value: each included procedure's form evaluated on the answers
 * it files (staff filing) says which of its top-level fields are required; a shared field is required when it
 * fills one of those (pwa/js/lifeevent.js sharedRequired, the rule of the resident's bundle). The fields of a
 * group's item keep their own required_if (conditions above). Until every form is loaded nothing changes.
 */
function markRequired(byProcedure, included) {
  if ([...included].some((pid) => !compiled.has(pid))) return;
  const today = japanToday();
  const results = [];
  const shared = new Map(); // shared field id -> {procedure: its field}
  for (const section of document.querySelectorAll('section.procedure[data-procedure]')) {
    const pid = section.dataset.procedure;
    if (!included.has(pid)) continue;
    const result = evaluateForm(compiled.get(pid), byProcedure[pid], { today, filer: 'staff' });
    results.push({ d: { procedure_id: pid }, result });
    const required = new Set(result.required);
    for (const div of section.querySelectorAll('.field[data-field]')) {
      if (div.closest('[data-item]')) continue;
      const mark = div.querySelector('.req');
      if (mark) mark.hidden = !required.has(div.dataset.field.split('.').slice(1).join('.'));
    }
    for (const [target, source] of Object.entries(JSON.parse(section.dataset.maps || '{}'))) {
      if (!source.startsWith('s.')) continue;
      if (!shared.has(source)) shared.set(source, {});
      shared.get(source)[pid] = target;
    }
  }
  const event = { shared_fields: [...shared].map(([source, maps]) => ({ field: { id: source.slice(2) }, maps_to: maps })) };
  const needed = new Set(sharedRequired(event, results));
  for (const div of document.querySelectorAll('.field[data-field^="s."]')) {
    const mark = div.querySelector('.req');
    if (mark && !div.closest('[data-item]')) mark.hidden = !needed.has(div.dataset.field.slice(2));
  }
}

/** The answers of one item of a group (its own fields, by field id). */
function itemAnswers(item) {
  const out = {};
  for (const div of item.querySelectorAll('.field[data-field]')) {
    const v = fieldValue(div);
    if (v !== null) out[div.dataset.field.split('.').pop()] = v;
  }
  return out;
}

/** Write a value (the shape filing stores; undefined: none) into one field's inputs. */
function setFieldValue(div, v) {
  const name = div.dataset.field;
  const kind = div.dataset.kind;
  for (const el of div.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    if (el.type === 'radio' || el.type === 'checkbox') {
      const want = kind === 'yesno' ? (v === true ? 'yes' : v === false ? 'no' : null) : v;
      el.checked = want != null && el.value === String(want);
    } else if (el.name.startsWith(`${name}.`)) {
      const part = el.name.slice(name.length + 1);
      el.value = v && typeof v === 'object' && v[part] != null ? v[part] : '';
    } else if (el.name === name) {
      el.value = v == null || typeof v === 'object' ? '' : String(v);
    }
  }
}

/**
 * A person picked (or 「ここにない人」): its targets in the same scope take the person's values by the PWA's own
 * rule (pwa/js/people.js pickPerson: values typed or corrected stay), as 「更新」 does on the server
 * (server.prefill_check.pick_person).
 */
function pickLive(div, input) {
  const live = JSON.parse(div.dataset.person);
  const scope = div.dataset.field.split('.')[0];
  const field = { id: div.dataset.field.split('.').slice(1).join('.'), fills: live.fills, pick_self: live.pick_self };
  const targets = {};
  const answers = { [field.id]: div.dataset.picked || null };
  for (const fid of Object.keys(live.fills)) {
    const t = document.querySelector(`.field[data-field="${scope}.${fid}"]`);
    if (!t) continue;
    targets[fid] = t;
    const v = fieldValue(t);
    if (v !== null) answers[fid] = v;
  }
  const person = live.people.find((p) => p.member_id === input.value) || null;
  for (const fid of pickPerson(field, answers, live.people, null, person)) {
    if (targets[fid]) setFieldValue(targets[fid], answers[fid]);
  }
  div.dataset.picked = person ? person.member_id : '';
}

/**
 * A ticked person's own fields (続柄...) show at once, as 「更新」 would; an unticked person's hide. Read from the
 * ticks as they are (also those made before this module ran, or restored by the browser).
 */
function personItems() {
  for (const list of form.querySelectorAll('.field[data-kind="members"]')) {
    const ticked = new Set([...list.querySelectorAll('input[type="checkbox"]')].filter((c) => c.name === list.dataset.field && c.checked).map((c) => c.value));
    for (const item of list.querySelectorAll('fieldset[data-person-of]')) item.hidden = !ticked.has(item.dataset.personOf);
  }
}

function refresh() {
  personItems();
  const items = [...document.querySelectorAll('#derived li[data-procedure]')];
  const event = {
    procedures: items.map((li) => ({ procedure: li.dataset.procedure, include_if: li.dataset.if ? JSON.parse(li.dataset.if) : null })),
  };
  const answersQ = questionAnswers();
  const byRule = new Set(applicableProcedures(event, answersQ, evaluate).map((p) => p.procedure));
  const included = new Set();
  for (const li of items) {
    const pid = li.dataset.procedure;
    const manual = li.dataset.manual;
    // Filed already in this visit (data-filed: its 受付番号): never derived again, only added by hand (interview_plan derive).
    const on = manual === 'added' || (manual !== 'removed' && !li.dataset.filed && byRule.has(pid));
    if (on) included.add(pid);
    li.hidden = !on;
    for (const other of document.querySelectorAll(`#derived-out li[data-procedure="${pid}"]`)) other.hidden = on;
    for (const section of document.querySelectorAll(`section.procedure[data-procedure="${pid}"]`)) section.hidden = !on;
    // 加える offers what is not included now, 外す what is.
    for (const opt of document.querySelectorAll(`#add-procedure option[value="${pid}"]`)) opt.disabled = on;
    for (const opt of document.querySelectorAll(`#remove-procedure option[value="${pid}"]`)) opt.disabled = !on;
  }
  conditions(answersQ, included);
  // The records' answer to a question (「記録から推定」, at the question and in the list's reasons) is marked only
  // while it is still the answer given.
  for (const p of document.querySelectorAll('[data-suggested]')) {
    const qid = p.dataset.basis || p.parentElement.dataset.question;
    p.hidden = form.querySelector(`input[name="q.${qid}"]:checked`)?.value !== p.dataset.suggested;
  }
}

/** Whether a field's inputs hold no answer yet (nothing ticked or picked, or a text part empty). */
function unanswered(inputs) {
  const ticks = inputs.filter((el) => el.type === 'radio' || el.type === 'checkbox');
  if (ticks.length) return !ticks.some((el) => el.checked);
  return inputs.some((el) => !el.value && !el.name.endsWith('.building')); // 建物名 is often none
}

/**
 * Where the keyboard starts on a screen loaded afresh: the first question not answered, else the first field
 * to answer (shown, not folded into 「記録から入力済み」: its first empty input). Not when the error summary
 * takes the focus (console.js), nor when the address names a place (a row just added: the browser went there).
 */
function focusFirst() {
  if (document.querySelector('.error-summary') || window.location.hash) return;
  // Never taken from where the clerk (or the page) already put it: a key pressed while the page loaded stays there.
  if (document.activeElement && document.activeElement !== document.body) return;
  const visible = (el) => !el.closest('[hidden]') && !el.closest('details:not([open])');
  for (const fs of form.querySelectorAll('fieldset[data-question]')) {
    if (!fs.querySelector('input:checked')) { fs.querySelector('input')?.focus(); return; }
  }
  // A field filing requires (its （必須） shown) first; else the first field still empty.
  const fields = [...form.querySelectorAll('.field[data-field]')].filter(visible).map((div) => [div,
    [...div.querySelectorAll('input:not([type="hidden"]), select, textarea')].filter((el) => el.closest('.field') === div && visible(el))])
    .filter(([, inputs]) => inputs.length && unanswered(inputs));
  const required = ([div]) => [...div.querySelectorAll('.req')].some((r) => r.closest('.field') === div && !r.hidden);
  const [, inputs] = fields.find(required) || fields[0] || [null, []];
  (inputs.find((el) => !el.value && !['radio', 'checkbox'].includes(el.type) && !el.name.endsWith('.building')) || inputs[0])?.focus();
}

if (form) {
  form.addEventListener('change', (e) => {
    const div = e.target instanceof HTMLInputElement && e.target.checked ? e.target.closest('.field[data-person]') : null;
    if (div && e.target.name === div.dataset.field) pickLive(div, e.target);
    refresh();
  });
  form.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      // The finish button's shortcut (aria-keyshortcuts): a keyboard clerk files from the field they are in
      // instead of tabbing past every optional field below it.
      e.preventDefault();
      form.requestSubmit(document.getElementById('finish'));
      return;
    }
    if (e.key === 'Enter' && t instanceof HTMLInputElement && !['submit', 'button', 'checkbox', 'radio'].includes(t.type)) {
      e.preventDefault(); // a clerk's Enter ends a field, never the interview
    }
  });
  refresh();
  focusFirst();
  loadForms();
}
