// One person's part of a two-person procedure (pwa/js/form.js partOf), twin of procedure_definitions/parties.py
// part_of; the cases are shared with tests/test_parties.py (tests/conformance/parties.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { partOf, evaluateForm } from '../../pwa/js/form.js';

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
