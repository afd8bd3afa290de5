// One person's part of a two-person procedure (pwa/js/parties.js partOf), twin of procedure_definitions/parties.py
// part_of; the cases are shared with tests/test_parties.py (tests/conformance/parties.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluateForm } from '../../pwa/js/form.js';
import { partOf } from '../../pwa/js/parties.js';

const conf = JSON.parse(readFileSync(new URL('../conformance/parties.json', import.meta.url), 'utf8'));

for (const c of conf.cases) {
  test(`conformance: ${c.name}`, () => {
    const part = partOf(conf.procedure, c.party);
    assert.deepEqual(part.sections.map((s) => s.id), c.sections);
    assert.deepEqual(evaluateForm(part, c.answers).errors.map((e) => e.path).sort(), c.errors);
  });
}

test('the first filer keeps the documents to bring; a party has none', () => {
  const withDocs = { ...conf.procedure, documents: [{ id: 'id_document', label: { ja: '本人確認書類' } }] };
  assert.equal(partOf(withDocs, '').documents.length, 1);
  assert.equal(partOf(withDocs, 'partner').documents.length, 0);
  assert.equal(withDocs.sections.length, 3); // never changes the procedure it is given
});

test('a new draft is prefilled in its own part only: each person from their own record', async () => {
  const { newDraftRecord } = await import('../../pwa/js/drafts.js');
  const proc = structuredClone(conf.procedure);
  for (const s of proc.sections) for (const f of s.fields) if (f.type === 'name') f.prefill = 'name';
  const profile = { verified: true, profile: { name: { family: '山田', given: '太郎' } } };
  let n = 0;
  const uuid = () => `id-${++n}`;
  const first = newDraftRecord({ path: 'p.json', compiled: proc }, { profile, uuid });
  assert.deepEqual(Object.keys(first.answers), ['my_name']); // never the partner's name with the filer's
  const theirs = newDraftRecord({ path: null, compiled: proc }, { profile, uuid, party: 'partner' });
  assert.deepEqual(Object.keys(theirs.answers), ['their_name']);
});
