// Answer paths: "copies", "members[0].name". Used for DOM ids, error links and form.js results.

export function fieldPath(base, id) {
  return base ? `${base}.${id}` : id;
}

/** ["members", 0, "name"] from "members[0].name". */
export function parsePath(path) {
  const out = [];
  for (const m of String(path).matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/** The top-level field id of an answer path: `movers[0].name` -> `movers`. */
export const topOf = (path) => String(parsePath(path)[0]);

export function getPath(obj, path) {
  let cur = obj;
  for (const k of parsePath(path)) {
    if (cur == null || typeof cur !== 'object') return undefined;
    cur = cur[k];
  }
  return cur;
}

/** Set a value; null, undefined and "" delete the key (they all mean "no answer"). */
export function setPath(obj, path, value) {
  const keys = parsePath(path);
  let cur = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i];
    if (cur[k] == null || typeof cur[k] !== 'object') cur[k] = typeof keys[i + 1] === 'number' ? [] : {};
    cur = cur[k];
  }
  const last = keys[keys.length - 1];
  if (value == null || value === '') {
    if (Array.isArray(cur) && typeof last === 'number') cur[last] = {};
    else delete cur[last];
  } else cur[last] = value;
  return obj;
}

function has(collection, key) {
  if (!collection) return undefined;
  if (collection instanceof Set || collection instanceof Map) return collection.has(key) ? (collection instanceof Map ? collection.get(key) !== false : true) : undefined;
  if (Array.isArray(collection)) return collection.includes(key) ? true : undefined;
  if (typeof collection === 'object') return key in collection ? Boolean(collection[key]) : undefined;
  return undefined;
}

/**
 * Is the field at `path` shown according to form.js's result? `shown` may list paths (Set, array or
 * {path: bool}); a path the result does not mention follows its enclosing group, else it is shown.
 */
export function isShown(result, path) {
  const shown = result && result.shown;
  if (!shown) return true;
  const direct = has(shown, path);
  if (direct !== undefined) return direct;
  const generic = String(path).replace(/\[\d+\]/g, '');
  const g = has(shown, generic);
  if (g !== undefined) return g;
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  if (cut > 0) return isShown(result, path.slice(0, cut));
  return Array.isArray(shown) || shown instanceof Set ? false : true;
}

/** The value at `path` in form.js's `values` (a {path: value} map or a nested answers object). */
export function valueAt(result, path) {
  const values = result && result.values;
  if (!values) return undefined;
  if (values instanceof Map) return values.get(path);
  if (Object.prototype.hasOwnProperty.call(values, path)) return values[path];
  return getPath(values, path);
}
