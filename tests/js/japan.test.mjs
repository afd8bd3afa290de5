// pwa/js/japan.js against the shared vectors of tests/conformance/japan.json (also run by test_japan.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as japan from "../../pwa/js/japan.js";

const { vectors } = JSON.parse(readFileSync(new URL("../conformance/japan.json", import.meta.url), "utf8"));

const FUNCTIONS = {
  is_valid_my_number: japan.isValidMyNumber,
  is_valid_corporate_number: japan.isValidCorporateNumber,
  normalize_kana: japan.normalizeKana,
  is_katakana: japan.isKatakana,
  is_valid_phone: japan.isValidPhone,
  normalize_postal_code: japan.normalizePostalCode,
  normalize_digits: japan.normalizeDigits,
  phone_digits: japan.phoneDigits,
  parse_wareki: japan.parseWareki,
  parse_wareki_partial: japan.parseWarekiPartial,
  to_wareki: japan.toWareki,
};
const RAISING = new Set(["parse_wareki", "parse_wareki_partial", "to_wareki"]);

test("vectors cover every function", () => {
  assert.ok(vectors.length >= 150);
  assert.deepEqual(new Set(vectors.map((v) => v.fn)), new Set(Object.keys(FUNCTIONS)));
});

for (const v of vectors) {
  test(`${v.fn}(${JSON.stringify(v.input)})`, () => {
    const fn = FUNCTIONS[v.fn];
    if (RAISING.has(v.fn) && v.expected === "error") {
      assert.throws(() => fn(v.input), Error);
    } else {
      assert.equal(fn(v.input), v.expected);
    }
  });
}

test("toWareki and parseWareki round-trip every day from 1873 to 2100", () => {
  let failures = 0;
  for (let t = Date.UTC(1873, 0, 1); t <= Date.UTC(2100, 11, 31); t += 86400000) {
    const iso = new Date(t).toISOString().slice(0, 10);
    if (japan.parseWareki(japan.toWareki(iso)) !== iso) failures++;
    if (japan.parseWareki(iso.replaceAll("-", "")) !== iso) failures++;
  }
  assert.equal(failures, 0);
});

test("exactly one My Number check digit per 11-digit prefix", () => {
  for (let i = 0; i < 2000; i++) {
    const prefix = String((i * 7919 * 104729) % 1e11).padStart(11, "0");
    const valid = [..."0123456789"].filter((c) => japan.isValidMyNumber(prefix + c));
    assert.equal(valid.length, 1, prefix);
  }
});

test("normalizeKana is idempotent and keeps astral characters", () => {
  const s = "ｶﾞ\u845b\u{e0100}ﾊﾟ\u{20bb7}ﾞゝ ぁ";
  assert.equal(japan.normalizeKana(s), "ガ\u845b\u{e0100}パ\u{20bb7}゛ヽ\u3000ァ");
  assert.equal(japan.normalizeKana(japan.normalizeKana(s)), japan.normalizeKana(s));
});

test("errors are Error instances with a message", () => {
  assert.throws(() => japan.parseWareki("平成31年5月1日"), /平成 ended on 2019-04-30/);
  assert.throws(() => japan.toWareki("2019-02-30"), Error);
  assert.throws(() => japan.toWareki("20190501"), Error);
});

// --- pwa/js/postal.js on a hand-written shard (real shards: tests/test_postal.py) ---------------------
import { lookupPostalCode, memoizeShardLoader } from "../../pwa/js/postal.js";

const SHARD_498 = {
  v: 1,
  a: [
    ["愛知県", "弥富市", "アイチケン", "ヤトミシ"],
    ["三重県", "桑名郡木曽岬町", "ミエケン", "クワナグンキソサキチョウ"],
  ],
  c: { "0000": [[0, "", ""], [1, "", ""]], "0001": [[0, "鍋田町", "ナベタチョウ"]] },
};

test("lookupPostalCode reads a shard", async () => {
  const requested = [];
  const load = async (prefix) => {
    requested.push(prefix);
    return prefix === "498" ? SHARD_498 : null;
  };
  assert.deepEqual(await lookupPostalCode("〒４９８－０００１", load), [
    { prefecture: "愛知県", city: "弥富市", town: "鍋田町", prefecture_kana: "アイチケン", city_kana: "ヤトミシ", town_kana: "ナベタチョウ" },
  ]);
  assert.deepEqual((await lookupPostalCode("498-0000", load)).map((e) => e.prefecture), ["愛知県", "三重県"]);
  assert.deepEqual(await lookupPostalCode("4989999", load), []);
  assert.deepEqual(await lookupPostalCode("999-9999", load), []);
  assert.deepEqual(await lookupPostalCode("49800", load), []);
  assert.deepEqual(requested, ["498", "498", "498", "999"]);
});

test("lookupPostalCode rejects when the shard cannot be loaded or is too new", async () => {
  await assert.rejects(lookupPostalCode("100-0001", async () => { throw new Error("offline"); }), /offline/);
  await assert.rejects(lookupPostalCode("100-0001", async () => ({ v: 2, a: [], c: {} })), /version/);
});

test("memoizeShardLoader fetches each prefix once and retries failures", async () => {
  let calls = 0;
  let fail = true;
  const load = memoizeShardLoader(async () => {
    calls++;
    if (fail) throw new Error("offline");
    return SHARD_498;
  });
  await assert.rejects(load("498"));
  fail = false;
  assert.equal(await load("498"), SHARD_498);
  assert.equal(await load("498"), SHARD_498);
  assert.equal(calls, 2);
});
