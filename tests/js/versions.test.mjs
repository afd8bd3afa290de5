// pwa/js/versions.js against the shared conformance file (the same one tests/test_versions.py reads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compareVersions, isValidVersion } from '../../pwa/js/versions.js';

const data = JSON.parse(readFileSync(new URL('../conformance/versions.json', import.meta.url), 'utf8'));

test('every pair of the ordered list compares as its positions do', () => {
  const vs = data.ordered;
  for (let i = 0; i < vs.length; i++) {
    assert.ok(isValidVersion(vs[i]), vs[i]);
    for (let j = 0; j < vs.length; j++) {
      assert.equal(compareVersions(vs[i], vs[j]), Math.sign(i - j), `${vs[i]} vs ${vs[j]}`);
    }
  }
});

test('sorting a shuffled copy gives the ordered list', () => {
  const shuffled = [...data.ordered].reverse();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  assert.deepEqual(shuffled.sort(compareVersions), data.ordered);
});

test('invalid versions are refused', () => {
  for (const v of data.invalid) {
    assert.equal(isValidVersion(v), false, JSON.stringify(v));
    assert.throws(() => compareVersions(v, '1.0.0'), RangeError);
  }
  assert.equal(isValidVersion(undefined), false);
});
