// The lobby board's words (server/tickets/static/board.js): the booth as the Python side names it
// (server/tickets/hub.py booth_label) and the announcement read out for each call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { announcement, boothLabel } from '../../server/tickets/static/board.js';

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
