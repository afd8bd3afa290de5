// Japan-aware value helpers for the PWA: the mirror of procedure_definitions/japan.py.
// Every function returns exactly what its Python twin returns (tests/conformance/japan.json).
// Characters are mapped with explicit tables and ASCII-only patterns: never String.prototype.normalize
// (NFKC/NFC rewrites compatibility ideographs in names). Dates travel as ISO strings "YYYY-MM-DD".

const SPACE = "[ \\t\\u3000]";

/** Full-width digits (０-９) to ASCII; everything else unchanged. */
export function normalizeDigits(s) {
  return s.replace(/[\uff10-\uff19]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30));
}

/** A phone number's digits (full-width as ASCII, separators dropped, +81 as the leading 0). */
export function phoneDigits(s) {
  const d = normalizeDigits(s).replace(/[^0-9]/g, '');
  return s.startsWith('+81') ? '0' + d.slice(2) : d;
}

// --- My Number and corporate number ------------------------------------------------------------

/** 12 ASCII digits whose last digit is the 個人番号 check digit (weights n+1 for n<=6, n-5 above). */
export function isValidMyNumber(s) {
  if (typeof s !== "string" || !/^[0-9]{12}$/.test(s)) return false;
  let total = 0;
  for (let n = 1; n <= 11; n++) {
    const q = s.charCodeAt(11 - n) - 48;
    total += q * (n <= 6 ? n + 1 : n - 5);
  }
  const remainder = total % 11;
  const check = remainder <= 1 ? 0 : 11 - remainder;
  return s.charCodeAt(11) - 48 === check;
}

/** 13 ASCII digits whose first digit is the 法人番号 check digit (weights 1, 2 alternating). */
export function isValidCorporateNumber(s) {
  if (typeof s !== "string" || !/^[0-9]{13}$/.test(s)) return false;
  let total = 0;
  for (let n = 1; n <= 12; n++) {
    const q = s.charCodeAt(13 - n) - 48;
    total += q * (n % 2 ? 1 : 2);
  }
  return s.charCodeAt(0) - 48 === 9 - (total % 9);
}

// --- Wareki --------------------------------------------------------------------------------------

// [name, start, last day or null]; dates as [year, month, day].
export const ERAS = [
  ["明治", [1868, 10, 23], [1912, 7, 29]],
  ["大正", [1912, 7, 30], [1926, 12, 24]],
  ["昭和", [1926, 12, 25], [1989, 1, 7]],
  ["平成", [1989, 1, 8], [2019, 4, 30]],
  ["令和", [2019, 5, 1], null],
];
const ERA_BY_NAME = new Map(ERAS.map((era) => [era[0], era]));
const EARLIEST_YEAR = 1873; // Gregorian calendar since 明治6年1月1日; earlier dates are out of scope
const BEFORE_1873 = "dates before 1873-01-01 (明治6年) used the lunisolar calendar: not supported";

const ERA_ALIASES = {
  明治: "明治", 大正: "大正", 昭和: "昭和", 平成: "平成", 令和: "令和",
  明: "明治", 大: "大正", 昭: "昭和", 平: "平成", 令: "令和",
  M: "明治", T: "大正", S: "昭和", H: "平成", R: "令和",
  m: "明治", t: "大正", s: "昭和", h: "平成", r: "令和",
  "Ｍ": "明治", "Ｔ": "大正", "Ｓ": "昭和", "Ｈ": "平成", "Ｒ": "令和",
  "㍾": "明治", "㍽": "大正", "㍼": "昭和", "㍻": "平成", "㋿": "令和",
};
const ERA_PREFIX = /^(明治|大正|昭和|平成|令和|西暦|[明大昭平令MTSHRmtshrＭＴＳＨＲ㍾㍽㍼㍻㋿])?([\s\S]*)$/;

const PUNCT = { "．": ".", "／": "/", "－": "-" };
const KANJI_DIGITS = { 〇: "0", 一: "1", 二: "2", 三: "3", 四: "4", 五: "5", 六: "6", 七: "7", 八: "8", 九: "9" };
const KANJI_TENS = /^([一二三四五六七八九]?)十([一二三四五六七八九]?)$/;
const SPACE_BETWEEN_DIGITS = new RegExp(`(?<=[0-9])${SPACE}+(?=[0-9])`, "g");
const ANY_SPACE = new RegExp(`${SPACE}+`, "g");

const ERA_FORMS = [
  /^(?<y>元|[0-9]{1,2})年(?:(?<m>[0-9]{1,2})月(?:(?<d>[0-9]{1,2})日?)?)?$/,
  /^(?<y>[0-9]{1,2})(?:(?<sep>[./-])(?<m>[0-9]{1,2})(?:\k<sep>(?<d>[0-9]{1,2}))?)?$/,
];
const GREGORIAN_FORMS = [
  /^(?<y>[0-9]{4})年(?:(?<m>[0-9]{1,2})月(?:(?<d>[0-9]{1,2})日?)?)?$/,
  /^(?<y>[0-9]{4})(?:(?<sep>[./-])(?<m>[0-9]{1,2})(?:\k<sep>(?<d>[0-9]{1,2}))?)?$/,
  /^(?<y>[0-9]{4})(?<m>[0-9]{2})(?<d>[0-9]{2})$/,
];

function kanjiNumber(run) {
  const tens = KANJI_TENS.exec(run);
  if (tens) {
    return String((tens[1] ? Number(KANJI_DIGITS[tens[1]]) : 1) * 10 + (tens[2] ? Number(KANJI_DIGITS[tens[2]]) : 0));
  }
  if (run.includes("十")) return run; // malformed (十十): left as is so that parsing fails
  return [...run].map((c) => KANJI_DIGITS[c]).join("");
}

function prepare(s) {
  if (typeof s !== "string") throw new Error("not a string");
  let t = normalizeDigits(s).replace(/[．／－]/g, (c) => PUNCT[c]);
  t = t.replace(/[〇一二三四五六七八九十]+/g, kanjiNumber);
  t = t.replace(SPACE_BETWEEN_DIGITS, "/"); // "2019 5 1" reads as 2019/5/1
  return t.replace(ANY_SPACE, "");
}

function daysInMonth(year, month) {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const pad = (n, width) => String(n).padStart(width, "0");
const isoOf = ([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;

function split(s) {
  const text = prepare(s);
  if (!text) throw new Error("empty date");
  const prefix = ERA_PREFIX.exec(text);
  const era = prefix[1] ? ERA_ALIASES[prefix[1]] : null;
  for (const form of era ? ERA_FORMS : GREGORIAN_FORMS) {
    const m = form.exec(prefix[2]);
    if (m) {
      const g = m.groups;
      const year = g.y === "元" ? 1 : Number(g.y);
      return [era, year, g.m ? Number(g.m) : null, g.d ? Number(g.d) : null];
    }
  }
  throw new Error(`not a date: ${JSON.stringify(s)}`);
}

function resolve(s) {
  const [eraName, yearAsWritten, month, day] = split(s);
  const era = eraName ? ERA_BY_NAME.get(eraName) : null;
  let year = yearAsWritten;
  if (era) {
    const [name, start, end] = era;
    if (year < 1) throw new Error(`${name} has no year ${year}`);
    const lastYear = end ? end[0] - start[0] + 1 : 99;
    if (year > lastYear) throw new Error(`${name} ended in its year ${lastYear}`);
    year = start[0] + year - 1;
  }
  if (year < EARLIEST_YEAR) throw new Error(BEFORE_1873);
  if (month !== null && !(month >= 1 && month <= 12)) throw new Error(`no month ${month}`);
  if (day !== null && month !== null && !(day >= 1 && day <= daysInMonth(year, month))) {
    throw new Error(`no day ${day} in ${year}-${pad(month, 2)}`);
  }
  if (era) {
    // The first and last day the input can denote (a whole month or year when partial), as ISO strings.
    const [name, start, end] = era;
    const first = isoOf([year, month ?? 1, day ?? 1]);
    const last = isoOf([year, month ?? 12, day ?? daysInMonth(year, month ?? 12)]);
    if (last < isoOf(start)) throw new Error(`${name} began on ${isoOf(start)}`);
    if (end && first > isoOf(end)) throw new Error(`${name} ended on ${isoOf(end)}`);
  }
  return [year, month, day];
}

/** A full date in Gregorian or Japanese-era notation as "YYYY-MM-DD"; throws Error when invalid. */
export function parseWareki(s) {
  const [year, month, day] = resolve(s);
  if (month === null || day === null) throw new Error(`incomplete date: ${JSON.stringify(s)}`);
  return isoOf([year, month, day]);
}

/** Like parseWareki, also accepting year-month or year only: "YYYY", "YYYY-MM" or "YYYY-MM-DD". */
export function parseWarekiPartial(s) {
  const [year, month, day] = resolve(s);
  if (month === null) return pad(year, 4);
  if (day === null) return `${pad(year, 4)}-${pad(month, 2)}`;
  return isoOf([year, month, day]);
}

/** "YYYY-MM-DD" to e.g. 令和元年5月1日; throws Error for malformed dates and dates before 1873. */
export function toWareki(iso) {
  const m = typeof iso === "string" ? /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(iso) : null;
  if (!m) throw new Error(`not an ISO date: ${JSON.stringify(iso)}`);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new Error(`not a date: ${iso}`);
  }
  if (year < EARLIEST_YEAR) throw new Error(BEFORE_1873);
  const era = [...ERAS].reverse().find(([, start]) => isoOf(start) <= iso);
  const eraYear = year - era[1][0] + 1;
  return `${era[0]}${eraYear === 1 ? "元" : eraYear}年${month}月${day}日`;
}

// --- Kana ----------------------------------------------------------------------------------------

const HALF = "｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ";
const FULL = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";
const zip = (a, b) => new Map([...a].map((c, i) => [c, [...b][i]]));
const VOICED = zip("ｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎｳﾜｦ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴヷヺ");
const SEMI_VOICED = zip("ﾊﾋﾌﾍﾎ", "パピプペポ");
const KANA_TABLE = zip(HALF, FULL);
for (let c = 0x3041; c <= 0x3096; c++) KANA_TABLE.set(String.fromCharCode(c), String.fromCharCode(c + 0x60));
KANA_TABLE.set("ゝ", "ヽ").set("ゞ", "ヾ").set(" ", "\u3000");

/**
 * Hiragana and half-width katakana to full-width katakana; everything else unchanged (see japan.py).
 * Works on UTF-16 code units: every mapped character is in the BMP, so surrogate pairs and
 * variation selectors pass through untouched.
 */
export function normalizeKana(s) {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const mark = s[i + 1];
    if (mark === "ﾞ" && VOICED.has(c)) {
      out += VOICED.get(c);
      i++;
    } else if (mark === "ﾟ" && SEMI_VOICED.has(c)) {
      out += SEMI_VOICED.get(c);
      i++;
    } else {
      out += KANA_TABLE.get(c) ?? c;
    }
  }
  return out;
}

/** Non-empty and only full-width katakana (incl. small ones, ヴヵヶヽヾ), ー, ・ and U+3000. */
export function isKatakana(s) {
  return typeof s === "string" && /^[\u30a1-\u30fe\u31f0-\u31ff\u3000]+$/.test(s);
}

// --- Phone ---------------------------------------------------------------------------------------

const PHONE_FORMS = [
  /^[0-9]{10,11}$/,
  /^[0-9]{2,5}[- ][0-9]{1,4}[- ][0-9]{3,4}$/,
  /^\([0-9]{2,5}\) ?[0-9]{1,4}[- ][0-9]{3,4}$/,
  /^[0-9]{2,5}\([0-9]{1,4}\)[0-9]{3,4}$/,
  /^[0-9]{2,5}[- ][0-9]{6,8}$/,
];
const ELEVEN_DIGIT_PREFIXES = ["020", "050", "060", "070", "080", "090", "0800"];

/** A Japanese phone number, leniently (see japan.py is_valid_phone). */
export function isValidPhone(s) {
  if (typeof s !== "string") return false;
  if (s.startsWith("+81")) {
    const international = /^\+81[- ]?([1-9][\s\S]*)$/.exec(s);
    if (!international) return false;
    s = "0" + international[1];
  }
  if (!PHONE_FORMS.some((form) => form.test(s))) return false;
  const digits = s.replace(/[^0-9]/g, "");
  if (!digits.startsWith("0") || digits.startsWith("00")) return false;
  const eleven = ELEVEN_DIGIT_PREFIXES.some((p) => digits.startsWith(p));
  return digits.length === (eleven ? 11 : 10);
}

// --- Postal code ---------------------------------------------------------------------------------

const POSTAL = new RegExp(`^〒?${SPACE}*([0-9]{3})[-－ー‐−]?([0-9]{4})$`);
const TRIM = new RegExp(`^${SPACE}+|${SPACE}+$`, "g");

/** The 7 ASCII digits ("1000001") of 100-0001, １００－０００１, 〒100-0001, ...; else null. */
export function normalizePostalCode(s) {
  if (typeof s !== "string") return null;
  const m = POSTAL.exec(normalizeDigits(s).replace(TRIM, ""));
  return m ? m[1] + m[2] : null;
}
