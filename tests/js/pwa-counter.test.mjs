// The counter code's pure parts (pwa/js/counter.js): the pre-entry a draft or life event sends with the code
// (the shape server/counter_code.py PreentryIn accepts), and how the code is shown and read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preentryOf, codeGroups, spelled, live, MAX_STRING } from '../../pwa/js/counter.js';

const file = { sha256: 'a'.repeat(64), name: '賃貸契約書.pdf', size: 1234, type: 'application/pdf' };

test('a draft sends its procedure, version and answers; files as references, never their bytes', () => {
  const d = { id: 'd1', procedure_id: 'tenkyo', procedure_version: '1.2.0', title: { ja: '転居届' },
    answers: { new_address: { postal_code: '3300063', city: 'さいたま市' }, docs: [file], photo: new Blob(['x']), note: 'x'.repeat(MAX_STRING + 1), memo: '午前' } };
  const pre = preentryOf(d);
  assert.deepEqual(pre, { kind: 'procedure', id: 'tenkyo', version: '1.2.0',
    answers: { new_address: { postal_code: '3300063', city: 'さいたま市' }, docs: [file], memo: '午前' } });
  assert.ok(!('note' in pre.answers), 'a text over the server limit is left out, not the whole code');
  assert.ok(!('photo' in pre.answers), 'bytes never travel in a pre-entry');
  assert.equal(d.answers.note.length, MAX_STRING + 1, 'the draft itself is never changed');
});

test('a life event sends its shared answers, its answered questions and each included procedure by id and version', () => {
  const b = { id: 'b1', kind: 'bundle', event_id: 'moving-within', event_version: '1.0.0', shared: { moved_on: '2026-12-01' }, questions: { needs_certificate: true }, drafts: ['p1', 'p2', 'gone'] };
  const parts = { p1: { procedure_id: 'tenkyo', procedure_version: '1.2.0', answers: { a: 1 } },
    p2: { procedure_id: 'jido-teate', procedure_version: '2.0.0', answers: { b: [true, null] } } };
  assert.deepEqual(preentryOf(b, parts), { kind: 'life_event', id: 'moving-within', version: '1.0.0', answers: { moved_on: '2026-12-01' },
    procedures: { tenkyo: { version: '1.2.0', answers: { a: 1 } }, 'jido-teate': { version: '2.0.0', answers: { b: [true, null] } } },
    questions: { needs_certificate: true } });
});

test('nothing to send for a draft without its procedure, or no draft', () => {
  assert.equal(preentryOf(null), null);
  assert.equal(preentryOf({ answers: {} }), null);
  assert.equal(preentryOf({ kind: 'bundle', drafts: [] }), null);
});

test('the code is shown in two groups of three and spelled one character at a time', () => {
  assert.equal(codeGroups('7KQ2MX'), '7KQ 2MX');
  assert.equal(spelled('7KQ2MX'), '7 K Q 2 M X');
});

test('a kept code is shown until it expires', () => {
  const now = Date.parse('2026-12-07T01:00:00Z');
  assert.equal(live({ code: '7KQ2MX', expires_at: '2026-12-07T01:29:59+00:00' }, now), true);
  assert.equal(live({ code: '7KQ2MX', expires_at: '2026-12-07T00:59:59+00:00' }, now), false);
  assert.equal(live(null, now), false);
});
