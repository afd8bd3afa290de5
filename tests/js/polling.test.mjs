// pwa/js/polling.js against the shared vectors of tests/conformance/polling.json (also run by
// tests/test_polling_twin.py against the queue bench's Python twin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { nextPoll, longPollPause } from '../../pwa/js/polling.js';

const V = JSON.parse(readFileSync(new URL('../conformance/polling.json', import.meta.url), 'utf8'));

test('nextPoll gives the shared vectors', () => {
  for (const v of V.next_poll) {
    assert.equal(nextPoll(v.last_s * 1000, v.changed, v.hint_s), v.want_s * 1000, JSON.stringify(v));
  }
});

test('longPollPause gives the shared vectors', () => {
  for (const v of V.long_poll_pause) {
    const how = v.status === null
      ? { failed: true, hintS: v.hint_s }
      : { status: v.status, tookMs: v.took_s * 1000, retryAfterS: v.retry_after ?? 0, hintS: v.hint_s };
    assert.equal(longPollPause(v.last_s * 1000, how), v.want_s * 1000, JSON.stringify(v));
  }
});
