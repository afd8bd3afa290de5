// form.js against the shared form cases (tests/conformance/forms.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluateForm, MESSAGES } from '../../pwa/js/form.js';

const data = JSON.parse(readFileSync(new URL('../conformance/forms.json', import.meta.url), 'utf8'));

test('there are enough cases', () => {
  assert.ok(data.cases.length >= 40);
});

test('messages are the same as in forms.py', () => {
  assert.deepStrictEqual(MESSAGES, data.messages);
});

for (const c of data.cases) {
  test(`${c.procedure}: ${c.name}`, () => {
    const answers = JSON.parse(JSON.stringify(c.answers));
    const r = evaluateForm(data.procedures[c.procedure], answers, { today: c.today, filer: c.filer || 'resident' });
    const exp = c.expected;
    if (exp.required) assert.deepStrictEqual(r.required, exp.required);
    const codes = Object.fromEntries(r.errors.map((e) => [e.path, e.code]));
    assert.equal(Object.keys(codes).length, r.errors.length, 'at most one error per path');
    assert.deepStrictEqual(codes, exp.error_codes);
    assert.equal(r.valid, exp.valid);
    assert.deepStrictEqual(r.shown, exp.shown);
    assert.deepStrictEqual(r.values, exp.values);
    assert.deepStrictEqual(answers, c.answers, 'answers are not mutated');
    for (const [path, text] of Object.entries(exp.messages_ja || {})) {
      assert.equal(r.errors.find((e) => e.path === path).message.ja, text);
    }
    for (const e of r.errors) assert.deepStrictEqual(Object.keys(e.message).sort(), ['en', 'ja', 'ja-easy']);
  });
}

test('garbage answers never throw', () => {
  for (const answers of [null, [], 'x', { copies: { a: [1] } }, { relation: ['self'] }]) {
    assert.equal(evaluateForm(data.procedures.basic, answers, { today: '2025-01-01' }).valid, false);
  }
});

test('non-finite numbers are refused (JSON cannot carry them, an input can)', () => {
  for (const bad of [NaN, Infinity, -Infinity, 2 ** 53]) {
    const r = evaluateForm(data.procedures.basic, { relation: 'self', copies: bad, agree: true }, { today: '2025-01-01' });
    assert.deepStrictEqual(r.errors.map((e) => [e.path, e.code]), [['copies', 'number_range']]);
    assert.ok(!('copies' in r.values) && !('total_fee' in r.values));
  }
});
