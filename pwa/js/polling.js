// How the ticket page and the lobby board ask again without an event stream (docs/queue.md "Live updates"):
// one rule for both, in a module of its own so the public board loads it without the app's other code.

// The ticket page's polling when the live stream is not available: soon after a change, then doubling while
// nothing changes, up to 30 s (docs/queue.md "Live updates"); the server's poll_after_s is the floor.
export const POLL_MIN_MS = 3000;
export const POLL_MAX_MS = 30000;

/** The wait before the next poll, given the last wait, whether that poll saw a change, and the server's hint. */
export function nextPoll(lastMs, changed, hintS = null) {
  const floor = Math.min(POLL_MAX_MS, Math.max(1000, hintS ? hintS * 1000 : POLL_MIN_MS));
  if (changed || !lastMs) return floor;
  return Math.min(POLL_MAX_MS, Math.max(floor, lastMs * 2));
}

// Long polling (docs/queue.md "Live updates"): GET /api/tickets/{token}?wait=HOLD_S with the ETag is held by the
// server until the ticket changes, so the next one is asked at once after each answer.
export const HOLD_S = 25;

/** The pause before the next long poll, given the last pause and how the last one went: none after an answer
 * that was held or brought news; after an error, or a 304 back at once (not held: the server is at its cap or
 * stopping), nextPoll's back-off, at least the server's Retry-After. */
export function longPollPause(lastMs, { failed = false, status = 200, tookMs = 0, retryAfterS = 0, hintS = null } = {}) {
  if (!failed && (status === 200 || tookMs >= 1000)) return 0;
  return Math.max(nextPoll(lastMs, false, hintS), (Number(retryAfterS) || 0) * 1000);
}
