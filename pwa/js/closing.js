// A procedure's scheduled close (docs/configuring.md, "Scheduling"): the pure date logic and its texts.
// The build ships a live version's closes_at (UTC ISO 8601) and close_message ({ja, en, ja-easy}) in its
// procedure file and catalog entry; the phone's clock decides whether it is past. Loaded only with a
// procedure that has one (page-closed.js) and by the finder: the first screen's size budget.

import { t, addStrings } from './i18n.js';

export const STRINGS = {
  ja: {
    closedTitle: 'この手続きの受付は終了しました',
    closedBadge: '受付終了',
    closedDrafts: '入力中の申請は、最後まで入力して送信できます。',
    closedStarted: '新しい受付は終了しました。入力中のこの申請は送信できます。',
    closesUntil: '受付は{date}{time}まで',
  },
  en: {
    closedTitle: 'Applications for this procedure have closed',
    closedBadge: 'Closed',
    closedDrafts: 'An application you have already started can still be completed and sent.',
    closedStarted: 'No new applications are accepted. This application, already started, can still be sent.',
    closesUntil: 'Applications accepted until {time} on {date} (Japan time)',
  },
  'ja-easy': {
    closedTitle: 'この てつづきの うけつけは おわりました',
    closedBadge: 'うけつけ おわり',
    closedDrafts: 'とちゅうまで かいた もうしこみは、さいごまで かいて おくれます。',
    closedStarted: 'あたらしい もうしこみは おわりました。この もうしこみは おくれます。',
    closesUntil: '{date} {time}まで もうしこめます',
  },
};
addStrings(STRINGS);

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const JST = 9 * 3600 * 1000; // Japan has no daylight saving time: UTC+9 all year

/** True when `closesAt` (ISO 8601) is not after `now` (ms). A missing or unreadable date never closes. */
export function isClosed(closesAt, now = Date.now()) {
  const at = Date.parse(closesAt || '');
  return Number.isFinite(at) && at <= now;
}

/** The calendar parts of an instant in Japan time: {year, month, day, hour, minute}. */
export function jstParts(iso) {
  const d = new Date(Date.parse(iso) + JST);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes() };
}

/** 「受付は3月31日17時まで」 in `lang` (Japan time; the year only when it is not this year in Japan). Not
 * statuses.js jst(): its medium style (2027/03/31 17:00) is not how a deadline is said. */
export function untilText(closesAt, lang, now = Date.now()) {
  const p = jstParts(closesAt);
  const year = p.year !== jstParts(new Date(now).toISOString()).year;
  const pad = (n) => String(n).padStart(2, '0');
  // やさしい日本語 in hiragana (no ruby in the app): 3がつ 31にち 17じ.
  // 分 reads ぷん after 1, 3, 4, 6, 8 and 10s (30ぷん), ふん after 2, 5, 7, 9 (15ふん).
  const fun = [0, 1, 3, 4, 6, 8].includes(p.minute % 10) ? 'ぷん' : 'ふん';
  const [y, mo, d, h, mi] = lang === 'ja-easy' ? ['ねん ', 'がつ ', 'にち', 'じ', fun] : ['年', '月', '日', '時', '分'];
  const date = lang === 'en' ? `${p.day} ${MONTHS[p.month - 1]}${year ? ` ${p.year}` : ''}` : `${year ? p.year + y : ''}${p.month}${mo}${p.day}${d}`;
  const time = lang === 'en' ? `${pad(p.hour)}:${pad(p.minute)}` : `${p.hour}${h}${p.minute ? p.minute + mi : ''}`;
  return t('closesUntil', { date, time }, lang);
}
