// The lobby board's words (server/tickets/static/board.js): the booth as the Python side names it
// (server/tickets/hub.py booth_label) and the announcement read out for each call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { announcement, boothLabel, callKey, freshCalls } from '../../server/tickets/static/board.js';

test('a numbered booth is 「N番窓口」 / Counter N; a named booth stays as it is', () => {
  assert.equal(boothLabel('3', 'ja'), '3番窓口');
  assert.equal(boothLabel('12', 'en'), 'Counter 12');
  assert.equal(boothLabel('こども課', 'ja'), 'こども課');
  assert.equal(boothLabel('Desk A', 'en'), 'Desk A');
});

test('each call is announced in Japanese and English', () => {
  assert.deepEqual(announcement('A-034', '3'),
    ['受付番号 A-034 の方、3番窓口へお越しください。', 'Number A-034, please come to counter 3.']);
});

test('calls not announced yet come oldest first: two booths calling at once are both read out', () => {
  const a = { number: 'A-001', booth: '1', at: '2026-12-07T00:00:00.000+00:00' };
  const b = { number: 'A-002', booth: '2', at: '2026-12-07T00:00:00.010+00:00' };
  const c = { number: 'A-003', booth: '3', at: '2026-12-07T00:00:01+00:00' };
  assert.deepEqual(freshCalls([b, a], new Set()), [a, b]); // one view holding both
  assert.deepEqual(freshCalls([c, b, a], new Set([callKey(a)])), [b, c]);
  assert.deepEqual(freshCalls([c, b, a], new Set([callKey(c), callKey(b), callKey(a)])), []);
  // the first page's newest call is seen: nothing below it is news either
  assert.deepEqual(freshCalls([b, a], new Set([callKey(b)])), []);
  // a recall is the same number at a new time: announced again
  const again = { ...a, at: '2026-12-07T00:00:05+00:00' };
  assert.deepEqual(freshCalls([again, c, b], new Set([callKey(c), callKey(b), callKey(a)])), [again]);
});

test('long polling asks again at once after an answer, and waits only when the server could not hold it', async () => {
  // The board polls by the resident app's rule (board.js imports it), with the board view's poll_after_s (1).
  const { longPollPause } = await import('../../pwa/js/polling.js');
  const pollPause = (answer, last = 0) => longPollPause(last, { hintS: 1, ...answer });
  assert.equal(pollPause({ status: 200, tookMs: 5 }), 0, 'news: ask again at once (the next one is held)');
  assert.equal(pollPause({ status: 304, tookMs: 25000 }), 0, 'held to the end: ask again at once');
  assert.equal(pollPause({ status: 304, tookMs: 3, retryAfterS: '3' }), 3000, 'not held: the server says when');
  assert.equal(pollPause({ status: 304, tookMs: 3 }), 1000, 'not held, no hint: not in a tight loop');
  // errors (offline, a restart; board.js counts a status other than 200 and 304 as one): from poll_after_s
  // doubling up to 30 s, not a loop against a server that is down
  assert.equal(pollPause({ failed: true }), 1000);
  assert.equal(pollPause({ failed: true, status: 502, tookMs: 3 }, 1000), 2000);
  assert.equal(pollPause({ failed: true }, 16000), 30000);
  assert.equal(pollPause({ failed: true }, 30000), 30000);
  assert.equal(pollPause({ status: 200, tookMs: 5 }, 30000), 0, 'back: at once again');
});
