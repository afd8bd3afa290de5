// やさしい日本語 of the UI strings, checked against docs' ui-guidance (section 4): hiragana instead of hard
// kanji (there is no ruby in the app shell), few loanwords, one idea per short sentence ending in です/ます,
// no honorifics, no romaji.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allStrings, addStrings, t } from '../../pwa/js/i18n.js';
import { STRINGS as FOLLOW } from '../../pwa/js/strings-follow.js';
import { STRINGS as PARTIES } from '../../pwa/js/strings-parties.js';
import { STRINGS as RECOVER } from '../../pwa/js/strings-recover.js';
import { STRINGS as COUNTER } from '../../pwa/js/strings-counter.js';
import { STRINGS as BOOKING } from '../../pwa/js/strings-booking.js';
import { STRINGS as CLOSING } from '../../pwa/js/closing.js';

// Strings of lazily loaded screens are checked too.
for (const table of [FOLLOW, PARTIES, RECOVER, COUNTER, CLOSING, BOOKING]) addStrings(table);
const STRINGS = await allStrings();

const EASY = Object.entries(STRINGS).map(([key, v]) => [key, v['ja-easy']]);
// The only kanji: 送信, the button's official name (the contract), explained in the review note.
const KANJI_ALLOWED = new Set(['送', '信']);
// Loanwords kept because they are the words the phone itself shows, or are explained where they appear.
const LOANWORDS = new Set(['サインイン', 'サインアウト', 'パスキー', 'パスワード', 'インターネット', 'スマートフォン', 'ファイル', 'カタカナ', 'コード']);
const ENDINGS = /(です|ます|ません|でした|ました|ください)$/;

const plain = (s) => s.replace(/\{\w+\}/g, '');

test('every UI string has Japanese, English and やさしい日本語', () => {
  for (const [key, v] of Object.entries(STRINGS)) {
    for (const lang of ['ja', 'en', 'ja-easy']) assert.ok(typeof v[lang] === 'string' && v[lang].length, `${key}.${lang}`);
  }
});

test('やさしい日本語: no hard kanji, no romaji, only known loanwords', () => {
  for (const [key, s] of EASY) {
    const text = plain(s);
    for (const ch of text.match(/\p{Script=Han}/gu) || []) assert.ok(KANJI_ALLOWED.has(ch), `${key}: kanji ${ch} in ${s}`);
    assert.deepEqual((text.replace(/MB/g, '').match(/[A-Za-z]+/g) || []), [], `${key}: romaji in ${s}`);
    for (const word of text.match(/[\u30a1-\u30fa\u30fc]+/g) || []) assert.ok(LOANWORDS.has(word), `${key}: loanword ${word} in ${s}`);
  }
});

test('やさしい日本語: short sentences that end in です/ます, without honorifics', () => {
  for (const [key, s] of EASY) {
    const sentences = plain(s).split('。').map((x) => x.trim()).filter(Boolean);
    const full = plain(s).includes('。');
    for (const [i, sentence] of sentences.entries()) {
      const last = i === sentences.length - 1;
      if (full && (!last || plain(s).trim().endsWith('。'))) {
        assert.match(sentence.replace(/[」）)]+$/, ''), ENDINGS, `${key}: sentence without です/ます: ${sentence}`);
      }
      assert.ok(sentence.replace(/\s/g, '').length <= 40, `${key}: sentence too long (${sentence.length}): ${sentence}`);
    }
    assert.doesNotMatch(s, /ございます|いただ|お持ち|ご(?:確認|不明|利用|用意)|なさ/, `${key}: honorific in ${s}`);
  }
});

test('やさしい日本語 keeps the form conventions: ※ badges and the 送信 button', () => {
  assert.ok(t('required', null, 'ja-easy').startsWith('※'));
  assert.ok(t('optional', null, 'ja-easy').startsWith('※'));
  assert.equal(t('submit', null, 'ja-easy'), '送信');
  assert.match(t('reviewNote', null, 'ja-easy'), /「送信」/);
});
