// pwa/js/polling.js (the ticket page's and the board's rule), and against the shared vectors of tests/conformance/polling.json (also run by
// tests/test_polling_twin.py against the queue bench's Python twin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { nextPoll, longPollPause, HOLD_S, POLL_MIN_MS, POLL_MAX_MS } from '../../pwa/js/polling.js';

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

test('polling backs off from 3 s, doubling to 30 s while nothing changes, and starts over on a change', () => {
  let wait = nextPoll(0, false);
  const seen = [wait];
  for (let i = 0; i < 6; i++) seen.push(wait = nextPoll(wait, false));
  assert.deepEqual(seen, [POLL_MIN_MS, 6000, 12000, 24000, POLL_MAX_MS, POLL_MAX_MS, POLL_MAX_MS]);
  assert.equal(nextPoll(wait, true), POLL_MIN_MS);
  assert.equal(nextPoll(wait, true, 5), 5000, "the server's poll_after_s is the floor");
  assert.equal(nextPoll(5000, false, 5), 10000);
  assert.equal(nextPoll(0, false, 120), POLL_MAX_MS, 'never slower than the cap');
  assert.equal(nextPoll(0, false, 0.1), 1000, 'never faster than once a second');
});

test('long polling asks again at once after each answer; back-off only after errors or an answer not held', () => {
  assert.equal(HOLD_S, 25);
  assert.equal(longPollPause(12000, { status: 200, tookMs: 4 }), 0, 'news: at once (the next one is held)');
  assert.equal(longPollPause(0, { status: 304, tookMs: 25000 }), 0, 'held to the end: at once');
  let wait = 0;
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push(wait = longPollPause(wait, { failed: true }));
  assert.deepEqual(seen, [POLL_MIN_MS, 6000, 12000, 24000]);
  assert.equal(longPollPause(0, { status: 304, tookMs: 2 }), POLL_MIN_MS, 'a 304 back at once was not held');
  assert.equal(longPollPause(0, { status: 304, tookMs: 2, retryAfterS: '10' }), 10000, 'Retry-After is honoured');
});
