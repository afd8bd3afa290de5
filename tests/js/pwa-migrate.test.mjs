// A draft pinned to an old procedure version moves to the new one on the device (pwa/js/migrate.js):
// answers kept, removed fields kept aside, only new required fields asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFields, migrateAnswers, newerVersion, firstSectionWith } from '../../pwa/js/migrate.js';

const V1 = {
  id: 'juminhyo-copy', version: '1.0.0',
  sections: [
    { id: 'request', fields: [{ id: 'relation', type: 'choice', required: true }, { id: 'copies', type: 'number', required: true }, { id: 'fax', type: 'text' }, { id: 'note', type: 'notice' }] },
    { id: 'applicant', fields: [{ id: 'applicant_name', type: 'name', required: true }, { id: 'applicant_email', type: 'text' }] },
  ],
};
const V2 = {
  id: 'juminhyo-copy', version: '1.1.0',
  sections: [
    { id: 'request', fields: [{ id: 'relation', type: 'choice', required: true }, { id: 'copies', type: 'number', required: true }, { id: 'total', type: 'number', required: true, calculate: { lit: 1 } }] },
    { id: 'applicant', fields: [{ id: 'applicant_name', type: 'name', required: true }, { id: 'applicant_email', type: 'text', required: true }, { id: 'applicant_phone', type: 'phone', required: true }, { id: 'applicant_fax', type: 'text' }] },
    { id: 'extra', fields: [{ id: 'reason', type: 'text', required_if: { ref: ['relation'] } }] },
  ],
};

test('answer fields skip notices', () => {
  assert.deepEqual(Object.keys(answerFields(V1)), ['relation', 'copies', 'fax', 'applicant_name', 'applicant_email']);
});

test('answers are kept, removed ones set aside, only new required fields asked', () => {
  const answers = { relation: 'self', copies: 2, fax: '03-0000', applicant_name: { family: '山田', given: '太郎' } };
  const m = migrateAnswers({ from: V1, to: V2, answers });
  assert.equal(m.version, '1.1.0');
  assert.deepEqual(m.answers, { relation: 'self', copies: 2, applicant_name: { family: '山田', given: '太郎' } });
  assert.deepEqual(m.retired, { fax: '03-0000' }, 'never deleted');
  assert.deepEqual(m.removed, ['fax']);
  assert.deepEqual(m.added, ['total', 'applicant_phone', 'applicant_fax', 'reason']);
  // applicant_email became required (it was optional) and is empty; total is calculated; fax optional;
  // reason is required only under a condition the default check does not evaluate.
  assert.deepEqual(m.ask, ['applicant_email', 'applicant_phone']);
  const withCondition = migrateAnswers({ from: V1, to: V2, answers, isRequired: (f, a) => f.required === true || (f.required_if ? Boolean(a.relation) : false) });
  assert.deepEqual(withCondition.ask, ['applicant_email', 'applicant_phone', 'reason']);
  assert.equal(firstSectionWith(V2, m.ask), 1);
});

test('answered new fields are not asked; a field that comes back is restored', () => {
  const m = migrateAnswers({ from: V1, to: V2, answers: { applicant_phone: '090', applicant_email: 'a@example.jp' } });
  assert.deepEqual(m.ask, []);
  const back = migrateAnswers({ from: V2, to: V1, answers: m.answers, retired: { fax: 'x' } });
  assert.deepEqual(back.answers.fax, 'x');
  assert.deepEqual(back.retired, { applicant_phone: '090' });
});

test('the newer published version comes from the build index', () => {
  const index = { procedures: { 'juminhyo-copy': { latest: '1.1.0', versions: { '1.0.0': '/p/1', '1.1.0': '/p/2' } } } };
  assert.equal(newerVersion(index, 'juminhyo-copy', '1.0.0'), '1.1.0');
  assert.equal(newerVersion(index, 'juminhyo-copy', '1.1.0'), null);
  assert.equal(newerVersion(index, 'unknown', '1.0.0'), null);
  assert.equal(newerVersion(index, 'juminhyo-copy', '1.1.0-rc.1'), '1.1.0', 'a release is newer than its pre-release');
  assert.equal(newerVersion(index, 'juminhyo-copy', '1.10.0'), null);
  assert.equal(newerVersion(index, 'juminhyo-copy', '1.1'), null, 'not a semantic version: left alone');
});
