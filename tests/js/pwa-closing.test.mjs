// A procedure's scheduled close (pwa/js/closing.js): whether it is past by the phone's clock, and the
// 「受付は…まで」 line in Japan time whatever the phone's time zone, in the three languages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isClosed, jstParts, untilText } from '../../pwa/js/closing.js';

const at = (iso) => Date.parse(iso);

test('closed from closes_at on, by the given clock; no date or an unreadable one never closes', () => {
  const closes = '2027-03-31T08:00:00Z'; // 17:00 JST
  assert.equal(isClosed(closes, at('2027-03-31T07:59:59Z')), false);
  assert.equal(isClosed(closes, at('2027-03-31T08:00:00Z')), true);
  assert.equal(isClosed(closes, at('2027-04-01T00:00:00Z')), true);
  // An offset in the stored value is honoured (the same instant).
  assert.equal(isClosed('2027-03-31T17:00:00+09:00', at('2027-03-31T07:59:59Z')), false);
  assert.equal(isClosed('2027-03-31T17:00:00+09:00', at('2027-03-31T08:00:00Z')), true);
  for (const none of [null, undefined, '', 'soon']) assert.equal(isClosed(none, at('2099-01-01T00:00:00Z')), false);
});

test('Japan time parts: the UTC day before can be the next day in Japan', () => {
  assert.deepEqual(jstParts('2027-03-31T15:30:00Z'), { year: 2027, month: 4, day: 1, hour: 0, minute: 30 });
  assert.deepEqual(jstParts('2027-12-31T14:59:00Z'), { year: 2027, month: 12, day: 31, hour: 23, minute: 59 });
  assert.deepEqual(jstParts('2027-12-31T15:00:00Z'), { year: 2028, month: 1, day: 1, hour: 0, minute: 0 });
});

test('the deadline line in each language, Japan time, the year only when it is not this year', () => {
  const now = at('2027-03-01T00:00:00Z');
  assert.equal(untilText('2027-03-31T08:00:00Z', 'ja', now), '受付は3月31日17時まで');
  assert.equal(untilText('2027-03-31T08:30:00Z', 'ja', now), '受付は3月31日17時30分まで');
  assert.equal(untilText('2027-03-31T08:00:00Z', 'en', now), 'Applications accepted until 17:00 on 31 March (Japan time)');
  assert.equal(untilText('2027-03-31T08:05:00Z', 'en', now), 'Applications accepted until 17:05 on 31 March (Japan time)');
  assert.equal(untilText('2027-03-31T08:00:00Z', 'ja-easy', now), '3がつ 31にち 17じまで もうしこめます');
  assert.equal(untilText('2027-03-31T08:30:00Z', 'ja-easy', now), '3がつ 31にち 17じ30ぷんまで もうしこめます');
  assert.equal(untilText('2027-03-31T08:15:00Z', 'ja-easy', now), '3がつ 31にち 17じ15ふんまで もうしこめます');
  // Next year (in Japan): said with the year. 2027-12-31T15:00Z is already 2028 in Japan.
  assert.equal(untilText('2027-12-31T15:00:00Z', 'ja', at('2027-12-31T14:00:00Z')), '受付は2028年1月1日0時まで');
  assert.equal(untilText('2028-01-10T03:00:00Z', 'en', now), 'Applications accepted until 12:00 on 10 January 2028 (Japan time)');
});

test('the phone\'s own time zone does not change the line', () => {
  // Date.parse + fixed UTC+9: independent of process.env.TZ (Japan has no daylight saving time).
  const before = process.env.TZ;
  try {
    process.env.TZ = 'America/Los_Angeles';
    assert.equal(untilText('2027-03-31T08:00:00Z', 'ja', at('2027-03-01T00:00:00Z')), '受付は3月31日17時まで');
  } finally {
    if (before === undefined) delete process.env.TZ; else process.env.TZ = before;
  }
});
