// Differential-test helper (tests/test_differential.py): reads {procedures, cases: [{procedure, answers,
// today}]} on stdin and writes the evaluateForm result of each case (or {crash}) as one JSON array.
import { evaluateForm } from '../../pwa/js/form.js';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { procedures, cases } = JSON.parse(input);
  const out = cases.map((c) => {
    try {
      return evaluateForm(procedures[c.procedure], c.answers, { today: c.today, filer: c.filer });
    } catch (e) {
      return { crash: String(e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
