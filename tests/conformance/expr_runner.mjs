// Differential-test helper (tests/test_differential.py): reads one JSON array of cases
// {ast, answers, item, today} on stdin and writes one JSON array of results, {"value": v} or
// {"error": code}, so the Python side can compare expr.js with evaluate.py on the same inputs.
import { evaluate, EvalError } from '../../pwa/js/expr.js';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((c) => {
    try {
      return { value: evaluate(c.ast, c.answers, { item: c.item ?? null, today: c.today ?? null }) };
    } catch (e) {
      if (e instanceof EvalError) return { error: e.code };
      return { crash: String(e) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
