// The language preference and the UI strings: Japanese (default, and the fallback) is always here;
// English and やさしい日本語 are loaded when chosen (loadLang), so a phone downloads one language.
// Procedure texts come from the library as {ja, en, 'ja-easy'}; tx() picks one with a fallback to ja.

import { STRINGS as JA } from './strings-ja.js';

export const LANGS = ['ja', 'en', 'ja-easy'];
const KEY = 'madoguchi.lang';

// Literal import() specifiers: the build rewrites them to the hashed file names.
const LOADERS = { en: () => import('./strings-en.js'), 'ja-easy': () => import('./strings-ja-easy.js') };
const tables = { ja: JA };

/** Make a language's strings available to t() (before setLang; Japanese needs nothing). */
export async function loadLang(lang) {
  if (!tables[lang] && LOADERS[lang]) tables[lang] = (await LOADERS[lang]()).STRINGS;
  return lang;
}

/** Every string in every language, {key: {ja, en, 'ja-easy'}} (for the tests; added tables included). */
export async function allStrings() {
  await Promise.all(LANGS.map(loadLang));
  const keys = [...Object.keys(JA), ...Object.keys(more.ja || {})];
  return Object.fromEntries(keys.map((k) => [k, Object.fromEntries(LANGS.map((l) => [l, tables[l][k] ?? (more[l] || {})[k]]))]));
}

let current = 'ja';

/** The stored or default language (Japanese unless the user chose another). */
export function initialLang(storage = globalThis.localStorage) {
  try {
    const v = storage && storage.getItem(KEY);
    if (LANGS.includes(v)) return v;
  } catch { /* storage may be unavailable (private mode) */ }
  return 'ja';
}

export function setLang(lang, storage = globalThis.localStorage) {
  if (!LANGS.includes(lang)) lang = 'ja';
  current = lang;
  try { storage && storage.setItem(KEY, lang); } catch { /* ignore */ }
  return lang;
}

export function getLang() { return current; }

/** The BCP 47 tag for the lang attribute: やさしい日本語 is still Japanese. */
export function htmlLang(lang = current) { return lang === 'en' ? 'en' : 'ja'; }

function fill(s, vars) {
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
}

// Strings of lazily loaded screens ({ja, en, 'ja-easy'} tables, e.g. strings-follow.js), added when their
// module loads: the shell carries only its own.
const more = {};
export function addStrings(byLang) {
  for (const l of Object.keys(byLang)) more[l] = { ...more[l], ...byLang[l] };
}

/** A UI string in the current language. */
export function t(key, vars, lang = current) {
  const s = (tables[lang] || JA)[key] ?? (more[lang] || {})[key] ?? JA[key] ?? (more.ja || {})[key];
  if (s === undefined) return key;
  return fill(s, vars);
}

/** A localized text from the library ({ja, en, 'ja-easy'} or a plain string). */
export function tx(text, lang = current) {
  if (text == null) return '';
  if (typeof text === 'string') return text;
  if (lang === 'ja-easy') return text['ja-easy'] ?? text.ja ?? text.en ?? '';
  if (lang === 'en') return text.en ?? text.ja ?? '';
  return text.ja ?? text.en ?? '';
}
