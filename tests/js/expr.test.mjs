// The JavaScript expression interpreter against the shared conformance vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluate, EvalError, FUNCTIONS } from '../../pwa/js/expr.js';

const data = JSON.parse(readFileSync(new URL('../conformance/expressions.json', import.meta.url), 'utf8'));
const CODES = new Set(['type', 'arity', 'unknown_function', 'bad_regex', 'bad_date']);

test('there are enough vectors', () => {
  assert.ok(data.vectors.length >= 220);
});

for (const vec of data.vectors) {
  const name = vec.expr ?? JSON.stringify(vec.ast);
  test(`vector ${name}`, () => {
    const opts = { item: vec.item ?? null, today: vec.today ?? null };
    if ('error' in vec) {
      assert.throws(() => evaluate(vec.ast, vec.answers, opts), (e) => {
        assert.ok(e instanceof EvalError, `not an EvalError: ${e}`);
        assert.equal(e.code, vec.error);
        assert.ok(CODES.has(e.code));
        return true;
      });
    } else {
      assert.deepStrictEqual(evaluate(vec.ast, vec.answers, opts), vec.expected);
    }
  });
}

test('FUNCTIONS lists every function with its arity', () => {
  assert.deepEqual(FUNCTIONS.age, [1, 2]);
  assert.equal(FUNCTIONS.concat[1], null);
  assert.equal(Object.keys(FUNCTIONS).length, 22);
});

test('the default today is an ISO date', () => {
  assert.match(evaluate({ call: 'today', args: [] }, {}), /^\d{4}-\d{2}-\d{2}$/);
});

test('prototype keys are not answers', () => {
  assert.equal(evaluate({ ref: ['constructor'] }, {}), null);
  assert.equal(evaluate({ ref: ['a', 'toString'] }, { a: {} }), null);
});
