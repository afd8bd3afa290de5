// The JavaScript interpreter of expression ASTs (docs/procedure-format.md, "Expression language").
// Twin of procedure_definitions/expressions/evaluate.py: same results, same error codes, checked by
// tests/conformance/expressions.json. No dependencies; dates use integer calendar math, never Date.

export const FUNCTIONS = Object.freeze({
  today: [0, 0], age: [1, 2], year: [1, 1], month: [1, 1], day: [1, 1],
  days_between: [2, 2], add_days: [2, 2], wareki: [1, 1], count: [1, 1], len: [1, 1],
  sum: [1, 1], min: [1, null], max: [1, null], round: [1, 2], matches: [2, 2],
  contains: [2, 2], starts_with: [2, 2], concat: [1, null], if: [3, 3], coalesce: [1, null],
  number: [1, 1], is_empty: [1, 1],
});

export class EvalError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'EvalError';
    this.code = code;
  }
}

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isNumber = (v) => typeof v === 'number';
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

export function typeName(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return 'list';
  return 'object';
}

// Non-finite results are null (JSON cannot carry them); -0 is 0.
function normalize(x) {
  if (!Number.isFinite(x)) return null;
  return x === 0 ? 0 : x;
}

export function truthy(v) {
  return !(v === null || v === undefined || v === false || v === 0 || v === '' ||
    (Array.isArray(v) && v.length === 0));
}

export function deepEqual(a, b) {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (isNumber(a) || isNumber(b)) return isNumber(a) && isNumber(b) && a === b;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return a === b;
}

// Compare strings by Unicode code point (JS < compares UTF-16 units, which misorders astral characters).
export function compareCodePoints(a, b) {
  let i = 0;
  while (i < a.length && i < b.length) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length === b.length ? 0 : (a.length < b.length ? -1 : 1);
}

export function codePointLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

// --- numbers -----------------------------------------------------------------------------------------

// Shortest round-trip digits of |x| and the point position n: |x| = 0.DIGITS * 10**n.
function decimalParts(x) {
  x = Math.abs(x);
  if (x === 0) return ['0', 1];
  const [mant, exp] = x.toExponential().split('e');
  const digits = mant.replace('.', '').replace(/0+$/, '') || '0';
  return [digits, Number(exp) + 1];
}

export function roundHalfAway(x, digits = 0) {
  if (x === 0 || !Number.isFinite(x)) return x;
  const [s, n] = decimalParts(x);
  const keep = n + digits;
  if (keep >= s.length) return x;
  if (keep < 0) return 0;
  let kept = BigInt(s.slice(0, keep) || '0');
  if (s[keep] >= '5') kept += 1n;
  const result = Number(`${kept}e${-digits}`);
  return x < 0 ? -result : result;
}

export const formatNumber = (x) => String(x);

// --- dates -------------------------------------------------------------------------------------------

const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;
const ERAS = [
  [[2019, 5, 1], '令和'], [[1989, 1, 8], '平成'], [[1926, 12, 25], '昭和'],
  [[1912, 7, 30], '大正'], [[1868, 10, 23], '明治'],
];
const floorDiv = (a, b) => Math.floor(a / b);
const isLeap = (y) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const monthDays = (y, m) => (m === 2 ? (isLeap(y) ? 29 : 28) : ([4, 6, 9, 11].includes(m) ? 30 : 31));

function parseDate(v, fn) {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new EvalError('type', `${fn}() expects a date string, got ${typeName(v)}`);
  const m = ISO.exec(v);
  if (!m) throw new EvalError('bad_date', `${fn}(): '${v}' is not an ISO date (YYYY-MM-DD)`);
  const y = Number(m[1]);
  const mo = m[2] ? Number(m[2]) : null;
  const d = m[3] ? Number(m[3]) : null;
  if (y < 1 || (mo !== null && (mo < 1 || mo > 12)) || (d !== null && mo !== null && (d < 1 || d > monthDays(y, mo)))) {
    throw new EvalError('bad_date', `${fn}(): '${v}' is not a valid date`);
  }
  return [y, mo, d];
}

function fullDate(v, fn) {
  const p = parseDate(v, fn);
  return p === null || p[1] === null || p[2] === null ? null : p;
}

function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = floorDiv(y >= 0 ? y : y - 399, 400);
  const yoe = y - era * 400;
  const doy = floorDiv(153 * (m + (m > 2 ? -3 : 9)) + 2, 5) + d - 1;
  const doe = yoe * 365 + floorDiv(yoe, 4) - floorDiv(yoe, 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z) {
  z += 719468;
  const era = floorDiv(z >= 0 ? z : z - 146096, 146097);
  const doe = z - era * 146097;
  const yoe = floorDiv(doe - floorDiv(doe, 1460) + floorDiv(doe, 36524) - floorDiv(doe, 146096), 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + floorDiv(yoe, 4) - floorDiv(yoe, 100));
  const mp = floorDiv(5 * doy + 2, 153);
  const d = doy - floorDiv(153 * mp + 2, 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [y + (m <= 2 ? 1 : 0), m, d];
}

const pad = (n, w) => String(n).padStart(w, '0');
const formatDate = (y, m, d) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
const tupleLess = (a, b) => a[0] !== b[0] ? a[0] < b[0] : (a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2]);

function wareki(date) {
  for (const [start, name] of ERAS) {
    if (!tupleLess(date, start)) {
      const n = date[0] - start[0] + 1;
      return `${name}${n === 1 ? '元' : n}年${date[1]}月${date[2]}日`;
    }
  }
  return null;
}

// Today's date in Japan (UTC+9, no daylight saving), whatever the phone's time zone; or the JST day of `now`.
export function japanToday(now = Date.now()) {
  return new Date(new Date(now).getTime() + 9 * 3600 * 1000).toISOString().slice(0, 10);
}

// --- regular expressions -----------------------------------------------------------------------------
// The portable subset (see procedure_definitions/expressions/regex.py): validated by the same walk,
// then run with the `u` flag, which is the reference semantics.

const HEX = /^[0-9a-fA-F]+$/;
const SYNTAX = '^$\\.*+?()[]{}|/';
const QUANT = /^\{(\d+)(,(\d*))?\}/;
const CLASS_ESCAPES = 'dDwWsS';
export const MAX_REPEAT = 100;
export const MAX_GROUP_DEPTH = 20;
export const MAX_PATTERN = 1000;
export const MAX_TEXT = 1000;
const badRegex = (msg) => new EvalError('bad_regex', `matches(): ${msg}`);

function checkEscape(p, i, inClass) {
  if (i + 1 >= p.length) throw badRegex('the pattern ends with a backslash');
  const c = p[i + 1];
  if ('dwDWnrtfvsb'.includes(c)) return i + 2;
  if (c === 'S' && !inClass) return i + 2;
  if (c === 'x') {
    const hx = p.slice(i + 2, i + 4);
    if (hx.length === 2 && HEX.test(hx)) return i + 4;
    throw badRegex('\\x needs two hex digits');
  }
  if (c === 'u') {
    const hx = p.slice(i + 2, i + 6);
    if (hx.length === 4 && HEX.test(hx)) {
      const v = parseInt(hx, 16);
      if (v < 0xd800 || v > 0xdfff) return i + 6;
    }
    throw badRegex('\\u needs four hex digits (not a surrogate)');
  }
  if (SYNTAX.includes(c) || (inClass && c === '-')) return i + 2;
  throw badRegex(`unsupported escape '\\${c}'`);
}

function checkClass(p, i) {
  i += 1;
  if (p[i] === '^') i += 1;
  if (p[i] === ']') throw badRegex("empty character class or unescaped ']' (write \\])");
  let startSet = null; // an atom that may start a range was just read: is it a class escape?
  let inRange = false; // "X-" was read: the next atom ends a range
  while (i < p.length) {
    const c = p[i];
    if (c === ']') return i + 1;
    if (c === '-' && startSet !== null && !inRange && i + 1 < p.length && p[i + 1] !== ']') {
      inRange = true;
      i += 1;
      continue;
    }
    const isSet = c === '\\' && i + 1 < p.length && CLASS_ESCAPES.includes(p[i + 1]);
    if (inRange && (startSet || isSet)) throw badRegex("a class escape (\\d, \\s, \\w...) cannot be the end of a range (escape the '-')");
    i = c === '\\' ? checkEscape(p, i, true) : i + 1;
    startSet = inRange ? null : isSet;
    inRange = false;
  }
  throw badRegex('unterminated character class');
}

// The quantifier at p[i]: [least count, greatest count or null (without bound), next index].
function checkQuantifier(p, i) {
  const c = p[i];
  if (c !== '{') return ['*?'.includes(c) ? 0 : 1, c === '?' ? 1 : null, i + 1];
  const m = QUANT.exec(p.slice(i));
  if (!m) throw badRegex("a '{' must start a quantifier {n}, {n,} or {n,m} (write \\{)");
  if (Number(m[1]) > MAX_REPEAT || (m[3] && Number(m[3]) > MAX_REPEAT)) {
    throw badRegex(`repeat counts above ${MAX_REPEAT} are not supported`);
  }
  const high = m[3] ? Number(m[3]) : m[2] !== undefined ? null : Number(m[1]);
  return [Number(m[1]), high, i + m[0].length];
}

// The backtracking bound, as in regex.py (same float arithmetic in the same order): a part of the pattern
// is summarised as a list c where c[k] counts its ways to match through k repeats without bound (each with
// a fixed body); it matches a MAX_TEXT text in at most sum(c[k] * C(MAX_TEXT + k, k)) ways.
export const MAX_WAYS = 1000000;
const ONE = [1];
function plus(a, b) {
  const out = new Array(Math.max(a.length, b.length)).fill(0);
  a.forEach((x, k) => { out[k] += x; });
  b.forEach((x, k) => { out[k] += x; });
  return out;
}
function times(a, b) {
  const out = new Array(a.length + b.length - 1).fill(0);
  a.forEach((x, i) => b.forEach((y, j) => { out[i + j] += x * y; }));
  return out;
}
const newFrame = (lookahead) => ({ lookahead, alts: [0], seq: ONE, flexible: false });
function closeAlternative(f) {
  f.alts = plus(f.alts, f.seq);
  f.seq = ONE;
}

function repeatCost(atom, rigid, low, high) {
  if (high === null) {
    if (!rigid) {
      throw badRegex("a part repeated without bound (*, + or {n,}) must match one fixed sequence: no '|' and "
        + 'no ?, *, + or {m,n} inside it, e.g. not (a|b)* or (?:a?b)+ (it can take exponential time)');
    }
    return [0, 1];
  }
  if (atom.length > 1) {
    if (high > 1) throw badRegex('a part repeated more than once must not hold a repetition without bound, e.g. (a+){2}');
    return low === 0 ? plus(atom, ONE) : atom;
  }
  let total = 0;
  let power = 1;
  for (let j = 0; j <= high; j += 1) {
    if (j >= low) total += power;
    power *= atom[0];
  }
  return [total];
}

function ways(cost) {
  let w = 0;
  let binom = 1;
  cost.forEach((c, k) => {
    if (k) binom = (binom * (MAX_TEXT + k)) / k;
    w += c * binom;
  });
  return w;
}

function checkPattern(p) {
  if (p.length > MAX_PATTERN) throw badRegex(`the pattern is longer than ${MAX_PATTERN} characters`);
  let i = 0;
  let atom = false;
  let quantified = false;
  const frames = [newFrame(false)];
  let pending = ONE; // the cost of the atom just read
  let pendingRigid = true;
  while (i < p.length) {
    const c = p[i];
    const frame = frames[frames.length - 1];
    if ('*+?{'.includes(c)) {
      if (c === '?' && quantified) { i += 1; quantified = false; continue; }
      if (!atom) throw badRegex(`nothing to repeat at '${c}'`);
      const [low, high, next] = checkQuantifier(p, i);
      pending = repeatCost(pending, pendingRigid, low, high);
      if (high !== low) frame.flexible = true;
      i = next;
      atom = false;
      quantified = true;
      continue;
    }
    quantified = false;
    frame.seq = times(frame.seq, pending);
    pending = ONE;
    pendingRigid = true;
    if (c === '\\') {
      if (p[i + 1] === 'B') throw badRegex('\\B is not supported (Python and JavaScript disagree on it)');
      const assertion = p[i + 1] === 'b';
      i = checkEscape(p, i, false);
      atom = !assertion;
    } else if (c === '[') {
      i = checkClass(p, i);
      atom = true;
    } else if (c === '(') {
      if (frames.length > MAX_GROUP_DEPTH) throw badRegex(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
      if (p.startsWith('(?', i)) {
        const head = p.slice(i, i + 3);
        if (!['(?:', '(?=', '(?!'].includes(head)) throw badRegex('only (?:...), (?=...) and (?!...) groups are supported');
        frames.push(newFrame(head !== '(?:'));
        i += 3;
      } else {
        frames.push(newFrame(false));
        i += 1;
      }
      atom = false;
    } else if (c === ')') {
      if (frames.length === 1) throw badRegex("unbalanced ')'");
      frames.pop();
      closeAlternative(frame);
      pending = frame.alts;
      pendingRigid = !frame.flexible;
      const parent = frames[frames.length - 1];
      parent.flexible = parent.flexible || frame.flexible;
      atom = !frame.lookahead;
      i += 1;
    } else if (c === '}' || c === ']') {
      throw badRegex(`unescaped '${c}'`);
    } else if (c === '|') {
      closeAlternative(frame);
      frame.flexible = true;
      atom = false;
      i += 1;
    } else if (c === '$' || c === '^') {
      atom = false;
      i += 1;
    } else {
      atom = true;
      i += 1;
    }
  }
  if (frames.length > 1) throw badRegex("unbalanced '('");
  const top = frames[0];
  top.seq = times(top.seq, pending);
  closeAlternative(top);
  if (ways(top.alts) > MAX_WAYS) {
    throw badRegex(`the pattern can match a ${MAX_TEXT}-character text in more than ${MAX_WAYS} ways, which a `
      + "backtracking engine may all try: use fewer repeats without bound, fewer '|' and ? in "
      + 'repeated parts, or {m,n} with smaller counts');
  }
}

const regexCache = new Map();

function compilePattern(pattern) {
  let re = regexCache.get(pattern);
  if (re) return re;
  checkPattern(pattern);
  try {
    re = new RegExp(`^(?:${pattern})$`, 'u');
  } catch (e) {
    throw badRegex(`invalid pattern: ${e.message}`);
  }
  if (regexCache.size > 1000) regexCache.clear();
  regexCache.set(pattern, re);
  return re;
}

// --- evaluation --------------------------------------------------------------------------------------

const blank = (v) => (v === '' || v === undefined ? null : v);

function step(v, key) {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map((x) => step(blank(x), key));
  if (isObject(v)) return blank(hasOwn(v, key) ? v[key] : null);
  throw new EvalError('type', `cannot take '.${key}' of a ${typeName(v)}`);
}

function ref(path, ctx) {
  if (!Array.isArray(path) || path.length === 0 || !path.every((p) => typeof p === 'string')) {
    throw new EvalError('type', 'malformed reference');
  }
  const head = path[0];
  const scope = ctx.item && hasOwn(ctx.item, head) ? ctx.item : ctx.answers;
  let v = blank(hasOwn(scope, head) ? scope[head] : null);
  for (const key of path.slice(1)) v = step(v, key);
  return v;
}

function num(v, op) {
  if (v === null || v === undefined) return null;
  if (!isNumber(v)) {
    const hint = op === '+' && typeof v === 'string' ? ' (use concat())' : '';
    throw new EvalError('type', `'${op}' needs numbers, got ${typeName(v)}${hint}`);
  }
  return v;
}

function arith(op, a, b) {
  const x = num(a, op);
  const y = num(b, op);
  if (x === null || y === null) return null;
  switch (op) {
    case '+': return normalize(x + y);
    case '-': return normalize(x - y);
    case '*': return normalize(x * y);
    case '/': return y === 0 ? null : normalize(x / y);
    default: return y === 0 ? null : normalize(x % y);
  }
}

function order(op, a, b) {
  if (a === null || b === null) return false;
  let c;
  if (isNumber(a) && isNumber(b)) c = a < b ? -1 : (a > b ? 1 : 0);
  else if (typeof a === 'string' && typeof b === 'string') c = compareCodePoints(a, b);
  else throw new EvalError('type', `cannot order ${typeName(a)} and ${typeName(b)}`);
  return { '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0 }[op];
}

function inOp(a, b) {
  if (b === null) return false;
  if (Array.isArray(b)) return b.some((x) => deepEqual(a, x));
  if (typeof b === 'string') {
    if (a === null) return false;
    if (typeof a !== 'string') throw new EvalError('type', `'in' a string needs a string on the left, got ${typeName(a)}`);
    return b.includes(a);
  }
  throw new EvalError('type', `'in' needs a list or a string on the right, got ${typeName(b)}`);
}

function evalOp(node, ctx) {
  const op = node.op;
  const args = node.args;
  if (!Array.isArray(args) || args.length !== (op === 'not' || op === 'neg' ? 1 : 2)) {
    throw new EvalError('arity', `operator '${op}' has the wrong number of operands`);
  }
  if (op === 'and') return truthy(ev(args[0], ctx)) && truthy(ev(args[1], ctx));
  if (op === 'or') return truthy(ev(args[0], ctx)) || truthy(ev(args[1], ctx));
  if (op === 'not') return !truthy(ev(args[0], ctx));
  if (op === 'neg') {
    const x = num(ev(args[0], ctx), '-');
    return x === null ? null : normalize(-x);
  }
  const a = ev(args[0], ctx);
  const b = ev(args[1], ctx);
  switch (op) {
    case '==': return deepEqual(a, b);
    case '!=': return !deepEqual(a, b);
    case '<': case '<=': case '>': case '>=': return order(op, a, b);
    case 'in': return inOp(a, b);
    case '+': case '-': case '*': case '/': case '%': return arith(op, a, b);
    default: throw new EvalError('type', `unknown operator '${op}'`);
  }
}

function ev(node, ctx) {
  if (!isObject(node)) throw new EvalError('type', 'malformed expression');
  if (hasOwn(node, 'lit')) {
    const v = node.lit;
    return isNumber(v) ? normalize(v) : (v === undefined ? null : v);
  }
  if (hasOwn(node, 'ref')) return ref(node.ref, ctx);
  if (hasOwn(node, 'op')) return evalOp(node, ctx);
  if (hasOwn(node, 'call')) return call(node, ctx);
  if (hasOwn(node, 'list') && Array.isArray(node.list)) return node.list.map((x) => ev(x, ctx));
  throw new EvalError('type', 'malformed expression');
}

// --- functions ---------------------------------------------------------------------------------------

function strArg(v, fn, what = 'a string') {
  if (v === null || typeof v === 'string') return v;
  throw new EvalError('type', `${fn}() expects ${what}, got ${typeName(v)}`);
}

function intArg(v, fn) {
  if (v === null) return null;
  if (!isNumber(v) || !Number.isInteger(v)) throw new EvalError('type', `${fn}() expects a whole number, got ${typeName(v)}`);
  return v;
}

function numbers(values, fn) {
  const out = [];
  for (const v of values) {
    if (v === null) continue;
    if (!isNumber(v)) throw new EvalError('type', `${fn}() expects numbers, got ${typeName(v)}`);
    out.push(v);
  }
  return out;
}

const datePart = (index, fn) => (a) => {
  const p = parseDate(a[0], fn);
  return p === null ? null : p[index];
};

function extreme(pick, fn) {
  return (a) => {
    const values = a.length === 1 && Array.isArray(a[0]) ? a[0] : a;
    let best = null;
    for (const x of numbers(values, fn)) if (best === null || pick(x, best)) best = x;
    return best === null ? null : normalize(best);
  };
}

const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;

const EAGER = {
  today: (a, ctx) => ctx.today,
  age(a, ctx) {
    const born = parseDate(a[0], 'age');
    const on = fullDate(a.length > 1 ? a[1] : ctx.today, 'age');
    if (born === null || on === null || born[1] === null) return null;
    // A registry birth date with 日不詳 ("1950-03"): the age is known except in the birth month itself.
    if (born[2] === null) return on[1] === born[1] ? null : on[0] - born[0] - (on[1] < born[1] ? 1 : 0);
    let years = on[0] - born[0];
    if (on[1] < born[1] || (on[1] === born[1] && on[2] < born[2])) years -= 1;
    return years;
  },
  year: datePart(0, 'year'),
  month: datePart(1, 'month'),
  day: datePart(2, 'day'),
  days_between(a) {
    const x = fullDate(a[0], 'days_between');
    const y = fullDate(a[1], 'days_between');
    return x === null || y === null ? null : daysFromCivil(...y) - daysFromCivil(...x);
  },
  add_days(a) {
    const d = fullDate(a[0], 'add_days');
    const n = intArg(a[1], 'add_days');
    if (d === null || n === null) return null;
    const outside = () => new EvalError('bad_date', 'add_days(): the result is outside the years 1-9999');
    if (Math.abs(n) > 10000000) throw outside();
    const [y, m, dd] = civilFromDays(daysFromCivil(...d) + n);
    if (y < 1 || y > 9999) throw outside();
    return formatDate(y, m, dd);
  },
  wareki(a) {
    const d = fullDate(a[0], 'wareki');
    return d === null ? null : wareki(d);
  },
  count(a) {
    if (a[0] === null) return 0;
    if (Array.isArray(a[0])) return a[0].length;
    throw new EvalError('type', `count() expects a list, got ${typeName(a[0])}`);
  },
  len(a) {
    const v = a[0];
    if (v === null) return 0;
    if (typeof v === 'string') return codePointLength(v);
    if (Array.isArray(v)) return v.length;
    throw new EvalError('type', `len() expects a string or a list, got ${typeName(v)}`);
  },
  sum(a) {
    const v = a[0];
    if (v === null) return 0;
    if (!Array.isArray(v)) throw new EvalError('type', `sum() expects a list, got ${typeName(v)}`);
    let total = 0;
    for (const x of numbers(v, 'sum')) total += x;
    return normalize(total);
  },
  min: extreme((x, best) => x < best, 'min'),
  max: extreme((x, best) => x > best, 'max'),
  round(a) {
    const x = numbers([a[0]], 'round');
    const digits = a.length > 1 ? intArg(a[1], 'round') : 0;
    if (x.length === 0 || digits === null) return null;
    return normalize(roundHalfAway(x[0], Math.max(-400, Math.min(400, digits))));
  },
  matches(a) {
    const s = strArg(a[0], 'matches');
    const pattern = strArg(a[1], 'matches', 'a pattern string');
    if (s === null || pattern === null) return false;
    const re = compilePattern(pattern);
    if (s.length > MAX_TEXT && codePointLength(s) > MAX_TEXT) throw badRegex(`the text is longer than ${MAX_TEXT} characters`);
    return re.test(s);
  },
  contains(a) {
    const s = strArg(a[0], 'contains');
    const sub = strArg(a[1], 'contains');
    return s !== null && sub !== null && s.includes(sub);
  },
  starts_with(a) {
    const s = strArg(a[0], 'starts_with');
    const prefix = strArg(a[1], 'starts_with');
    return s !== null && prefix !== null && s.startsWith(prefix);
  },
  concat(a) {
    let out = '';
    for (const v of a) {
      if (v === null) continue;
      if (typeof v === 'string') out += v;
      else if (isNumber(v)) out += formatNumber(v);
      else throw new EvalError('type', `concat() joins strings and numbers, got ${typeName(v)}`);
    }
    return out;
  },
  number(a) {
    const v = a[0];
    if (v === null || isNumber(v)) return v;
    if (typeof v !== 'string') throw new EvalError('type', `number() expects a string, got ${typeName(v)}`);
    return DECIMAL.test(v) ? normalize(Number(v)) : null;
  },
  is_empty(a) {
    const v = a[0];
    return v === null || v === '' || (Array.isArray(v) && v.length === 0);
  },
};

function call(node, ctx) {
  const name = node.call;
  const args = node.args;
  if (typeof name !== 'string' || !hasOwn(FUNCTIONS, name)) {
    throw new EvalError('unknown_function', `unknown function '${name}'`);
  }
  if (!Array.isArray(args)) throw new EvalError('type', 'malformed function call');
  const [lo, hi] = FUNCTIONS[name];
  if (args.length < lo || (hi !== null && args.length > hi)) {
    throw new EvalError('arity', `${name}() got ${args.length} arguments`);
  }
  // if() and coalesce() evaluate lazily, so an unused branch cannot fail.
  if (name === 'if') return ev(truthy(ev(args[0], ctx)) ? args[1] : args[2], ctx);
  if (name === 'coalesce') {
    for (const arg of args) {
      const v = ev(arg, ctx);
      if (v !== null) return v;
    }
    return null;
  }
  return EAGER[name](args.map((x) => ev(x, ctx)), ctx);
}

export function evaluate(ast, answers, { item = null, today = null } = {}) {
  const ctx = {
    answers: isObject(answers) ? answers : {},
    item: isObject(item) ? item : null,
    today: today || japanToday(),
  };
  return ev(ast, ctx);
}
