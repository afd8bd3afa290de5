// Procedure finder: match words in Japanese or English against titles (3 languages), descriptions,
// keywords and department names. Pure; the catalog comes from data/catalog.<hash>.json.

/** Fold case, full-width ASCII and hiragana/katakana so 住民票 / ｊｕｍｉｎ / じゅうみん all match. */
export function fold(s) {
  return String(s || '')
    .replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\u30a1-\u30f6]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60))
    .toLowerCase()
    .replace(/[\s\u3000・,、。]+/g, ' ')
    .trim();
}

function texts(t) {
  if (!t) return [];
  return typeof t === 'string' ? [t] : Object.values(t).filter(Boolean);
}

export function searchProcedures(index, query) {
  const words = fold(query).split(' ').filter(Boolean);
  const procs = Object.entries((index && index.procedures) || {});
  if (!words.length) return procs.map(([id, p]) => ({ id, ...p, score: 0 }));
  const out = [];
  for (const [id, p] of procs) {
    const title = fold(texts(p.title).join(' '));
    const kw = fold((p.keywords || []).join(' '));
    const rest = fold([...texts(p.description), ...texts(p.department), id].join(' '));
    let score = 0;
    let all = true;
    for (const w of words) {
      const s = (title.includes(w) ? 3 : 0) + (kw.includes(w) ? 2 : 0) + (rest.includes(w) ? 1 : 0);
      if (!s) { all = false; break; }
      score += s;
    }
    if (all) out.push({ id, ...p, score });
  }
  return out.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}
