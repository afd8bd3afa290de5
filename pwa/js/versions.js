// Definition versions: Semantic Versioning 2.0.0 order, the same as procedure_definitions/versions.py
// (tests/conformance/versions.json pins both). A pre-release sorts before its release (1.0.0-rc.1 < 1.0.0);
// pre-release identifiers compare left to right, numeric ones numerically and below alphanumeric ones;
// build metadata has no precedence and only breaks ties, as text, so that the order is total.

const NUM = '0|[1-9]\\d*';
const PRE_ID = `(?:${NUM}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const SEMVER = new RegExp(`^(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?`
  + '(?:\\+([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$');

/** True for a semantic version string. */
export function isValidVersion(v) {
  return typeof v === 'string' && SEMVER.test(v);
}

function parse(v) {
  const m = typeof v === 'string' ? SEMVER.exec(v) : null;
  if (!m) throw new RangeError(`not a semantic version: ${v}`);
  return m;
}

const text = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
// Numeric identifiers have no leading zeros: the longer is larger, else compare as text (no Number
// rounding beyond 2^53).
const num = (a, b) => (a.length !== b.length ? (a.length < b.length ? -1 : 1) : text(a, b));
const isNum = (s) => /^\d+$/.test(s);

/** -1, 0 or 1 as `a` sorts before, with or after `b`; throws RangeError for a non-semver string. */
export function compareVersions(a, b) {
  const x = parse(a);
  const y = parse(b);
  for (let i = 1; i <= 3; i++) {
    const c = num(x[i], y[i]);
    if (c) return c;
  }
  const px = x[4];
  const py = y[4];
  if (px === undefined || py === undefined) {
    if (px !== py) return px === undefined ? 1 : -1;
  } else {
    const ix = px.split('.');
    const iy = py.split('.');
    for (let i = 0; i < Math.min(ix.length, iy.length); i++) {
      const nx = isNum(ix[i]);
      const ny = isNum(iy[i]);
      const c = nx && ny ? num(ix[i], iy[i]) : nx !== ny ? (nx ? -1 : 1) : text(ix[i], iy[i]);
      if (c) return c;
    }
    if (ix.length !== iy.length) return ix.length < iy.length ? -1 : 1;
  }
  return text(x[5] ?? '', y[5] ?? '');
}
