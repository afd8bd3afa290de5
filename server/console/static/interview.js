// The interview screen's live list of procedures (server/console/interview_pages.py): as the clerk answers
// the life event's questions, each procedure of the list is shown as included or not, with the SAME rule as
// the resident's bundle: pwa/js/lifeevent.js applicableProcedures over pwa/js/expr.js evaluate (served here as
// they are, no copy). Procedures added or removed by hand keep that choice. Without this file 「更新」 asks the
// server, which decides the same (server/interview_plan.py). Enter in a field never submits the form.
import { evaluate } from './expr.js';
import { applicableProcedures } from './lifeevent.js';

const form = document.getElementById('interview');

function questionAnswers() {
  const out = {};
  for (const fs of form.querySelectorAll('fieldset[data-question]')) {
    const picked = fs.querySelector('input:checked');
    out[fs.dataset.question] = picked ? picked.value === 'yes' : null;
  }
  return out;
}

function refresh() {
  const items = [...document.querySelectorAll('#derived li[data-procedure]')];
  const event = {
    procedures: items.map((li) => ({ procedure: li.dataset.procedure, include_if: li.dataset.if ? JSON.parse(li.dataset.if) : null })),
  };
  const byRule = new Set(applicableProcedures(event, questionAnswers(), evaluate).map((p) => p.procedure));
  for (const li of items) {
    const pid = li.dataset.procedure;
    const manual = li.dataset.manual;
    const on = manual === 'added' || (manual !== 'removed' && byRule.has(pid));
    li.hidden = !on;
    for (const other of document.querySelectorAll(`#derived-out li[data-procedure="${pid}"]`)) other.hidden = on;
    for (const section of document.querySelectorAll(`section.procedure[data-procedure="${pid}"]`)) section.hidden = !on;
  }
}

if (form) {
  form.addEventListener('change', (e) => { if (e.target.closest('fieldset[data-question]')) refresh(); });
  form.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.key === 'Enter' && t instanceof HTMLInputElement && !['submit', 'button', 'checkbox', 'radio'].includes(t.type)) {
      e.preventDefault(); // a clerk's Enter ends a field, never the interview
    }
  });
  refresh();
}
