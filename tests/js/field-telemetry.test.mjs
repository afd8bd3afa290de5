// field-telemetry.js's pure part: what counts as viewed, errors counted, the payload POST /api/telemetry/sessions takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldPath, newId, createSession, visiblePaths, see, focus, pressed, resume, payload } from '../../pwa/js/field-telemetry.js';

const draft = { id: 'd1', procedure_id: 'juminhyo-copy', procedure_version: '1.2.0', answers: { name: '山田' } };
const T0 = new Date('2026-12-01T01:00:00Z');

// A node as the renderer draws it: data-path, and whether it or an ancestor is hidden.
const node = (path, hidden = false) => ({ getAttribute: (a) => (a === 'data-path' ? path : null), closest: (sel) => (sel === '[hidden]' && hidden ? {} : null) });

test('a group item\'s path is the field\'s path in the definition', () => {
  assert.equal(fieldPath('kids[12].name'), 'kids.name');
  assert.equal(fieldPath('a[0].b[3].c'), 'a.b.c');
  assert.equal(fieldPath('copies'), 'copies');
});

test('session ids fit the server\'s rule and differ', () => {
  const a = newId(); const b = newId();
  assert.match(a, /^[A-Za-z0-9_-]{8,64}$/);
  assert.notEqual(a, b);
});

test('viewed: only visible fields, in first-shown order, each once, item indexes dropped', () => {
  const s = createSession(draft, false, T0, 'sess-0001');
  see(s, visiblePaths([node('name'), node('spouse', true), node('kids'), node('kids[0].name'), node('kids[1].name')]));
  see(s, visiblePaths([node('spouse'), node('name'), node('copies')]));
  assert.deepEqual(s.viewed, ['name', 'kids', 'kids.name', 'spouse', 'copies']);
});

test('viewed stops at the server\'s limits (500 paths, 200 characters)', () => {
  const s = createSession(draft, false, T0, 'sess-0001');
  see(s, ['x'.repeat(201), ...Array.from({ length: 600 }, (_, i) => `f${i}`)]);
  assert.equal(s.viewed.length, 500);
  assert.equal(s.viewed[0], 'f0');
});

test('errors: +1 per field showing an error after each press, whatever the messages did in between', () => {
  const s = createSession(draft, false, T0, 'sess-0001');
  pressed(s, ['kids[0].name', 'copies']);
  pressed(s, ['kids[0].name', 'copies']); // pressed again, the same errors: counted again
  pressed(s, ['kids[0].name', 'kids[1].name']); // two items of one field: that field once
  pressed(s, []);
  pressed(s, ['copies']); // shown again after being fixed
  assert.deepEqual(s.errors, { 'kids.name': 3, copies: 3 });
});

test('a draft\'s session is resumed from what the device kept, for the same version only', () => {
  const s = createSession(draft, false, T0, 'a'.repeat(32));
  see(s, ['name', 'copies']);
  pressed(s, ['copies']);
  const kept = JSON.parse(JSON.stringify(s)); // as localStorage keeps it
  const again = resume(kept, draft, false, new Date('2026-12-02T00:00:00Z'), 'b'.repeat(32));
  assert.deepEqual(again, s);
  assert.notEqual(again.errors, kept.errors);
  const other = resume(kept, { ...draft, procedure_version: '1.3.0' }, false, T0, 'c'.repeat(32));
  assert.deepEqual([other.id, other.viewed, other.procedure_version], ['c'.repeat(32), [], '1.3.0']);
  for (const junk of [undefined, null, 'x', {}, { ...kept, id: 'd1' }, { ...kept, viewed: 'name' }, { ...kept, errors: null }]) {
    assert.equal(resume(junk, draft, true, T0, 'e'.repeat(32)).id, 'e'.repeat(32));
  }
});

test('the payload: left names the field last focused, else the last shown; submitted names none; never answers', () => {
  const s = createSession(draft, true, T0, 'sess-0001');
  see(s, ['name', 'copies', 'note']);
  const shown = payload(s, 'left', new Date('2026-12-01T01:02:00Z'));
  assert.equal(shown.last_field, 'note');
  focus(s, 'kids[2].name');
  const p = payload(s, 'left', new Date('2026-12-01T01:02:00Z'));
  assert.deepEqual(p, {
    session: 'sess-0001', procedure_id: 'juminhyo-copy', procedure_version: '1.2.0', channel: 'staff',
    started_at: '2026-12-01T01:00:00.000Z', ended_at: '2026-12-01T01:02:00.000Z', outcome: 'left',
    viewed: ['name', 'copies', 'note'], last_field: 'kids.name', errors: {},
  });
  assert.equal(payload(s, 'submitted').last_field, null);
  assert.equal(createSession(draft, false).channel, 'resident');
  assert.ok(!JSON.stringify(p).includes('山田'));
  assert.equal(payload(createSession(draft, false), 'left').last_field, null);
});
