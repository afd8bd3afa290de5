// The household page refuses a date of birth the server would refuse (docs/sync.md record table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validBirthDate } from '../../pwa/js/households.js';

test('a date of birth is YYYY-MM-DD (a real date) or YYYY-MM', () => {
  for (const ok of ['1948-11-03', '1950-03', '2000-02-29', '0099-01-01']) assert.equal(validBirthDate(ok), true, ok);
  for (const bad of ['x', '1948-13', '1948-02-30', '1900-02-29', '1948-1-3', '0000-01', '1948-11-03T00:00', '']) {
    assert.equal(validBirthDate(bad), false, bad);
  }
});
