// Offline postal code lookup for the PWA, from the shards built by procedure_definitions/postal.py.
// Shard format (one per first 3 digits, served as /postal/{prefix}.json):
//   {"v": 1, "a": [[prefecture, city, prefecture_kana, city_kana], ...],
//            "c": {"0001": [[area_index, town, town_kana], ...], ...}}
// Results equal Python's lookup_postal_code: [{prefecture, city, town, prefecture_kana, city_kana,
// town_kana}], [] for malformed or unknown codes, town "" for "-0000" codes.
import { normalizePostalCode } from "./japan.js";

export const SHARD_VERSION = 1;

/**
 * Look a code up. `loadShard(prefix)` is supplied by the app (e.g. a fetch of `/postal/${prefix}.json`
 * through the service worker cache) and resolves to the decoded shard, or to null when no shard exists
 * for that prefix. A rejected loadShard (offline, shard not cached) rejects here too, so that the UI can
 * tell "unknown code" ([]) from "cannot look up now".
 */
export async function lookupPostalCode(code, loadShard) {
  const normalized = normalizePostalCode(code);
  if (normalized === null) return [];
  const shard = await loadShard(normalized.slice(0, 3));
  if (!shard) return [];
  if (shard.v !== SHARD_VERSION) throw new Error(`unsupported postal shard version ${shard.v}`);
  const rows = Object.hasOwn(shard.c, normalized.slice(3)) ? shard.c[normalized.slice(3)] : [];
  return rows.map(([index, town, townKana]) => {
    const [prefecture, city, prefectureKana, cityKana] = shard.a[index];
    return { prefecture, city, town, prefecture_kana: prefectureKana, city_kana: cityKana, town_kana: townKana };
  });
}

/** Wraps a loadShard so that each prefix is fetched once per page (concurrent calls share the promise). */
export function memoizeShardLoader(loadShard) {
  const cache = new Map();
  return (prefix) => {
    if (!cache.has(prefix)) {
      const promise = Promise.resolve(loadShard(prefix));
      promise.catch(() => cache.delete(prefix)); // a failed fetch may succeed later (back online)
      cache.set(prefix, promise);
    }
    return cache.get(prefix);
  };
}
