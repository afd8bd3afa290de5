// When the page syncs (after Replicache's connection loop: the schedule is an object with its clock and
// timers injected, tests/js/pwa-scheduler.test.mjs). Triggers: start, coming back online, after an edit is
// committed, the retry button (forced), a 30 s poll for other devices' changes while visible, and a retry
// while something still waits, at the engine's backoff time (meta `backoff.next_at`, docs/sync.md).
// One run at a time: a trigger during a run makes exactly one more run afterwards, so nothing queued
// meanwhile waits for the next trigger.

export const POLL_MS = 30000;
export const RETRY_MS = 30000; // when something waits and the engine set no backoff time
export const MIN_DELAY_MS = 1000;

/**
 * `run(force)` syncs once and resolves to the status summary; `waiting()` resolves to
 * {waiting: bool, nextAt: epoch ms | null} after a run; `canPoll()` says whether a poll is useful now
 * (online, visible, signed in).
 */
export function createSyncScheduler({ run, waiting, canPoll = () => true, timers = globalThis, now = () => Date.now(), pollMs = POLL_MS, log = console.error }) {
  let running = null;
  let again = false;
  let againForce = false;
  let retryTimer = null;
  let pollTimer = null;
  let retryAt = null;

  async function loop(force) {
    let s = null;
    let f = force;
    for (;;) {
      again = false;
      try { s = await run(f); } catch (e) { log(e); }
      f = againForce;
      againForce = false;
      if (again) continue;
      // Still running while it reads what waits: a trigger meanwhile must make one more run too.
      await scheduleRetry();
      if (!again) return s;
      f = againForce;
      againForce = false;
    }
  }

  /** Sync now (or once more after the current run). Resolves to the last run's summary. */
  async function trigger({ force = false } = {}) {
    if (running) {
      again = true;
      againForce = againForce || force;
      return running;
    }
    running = loop(force);
    try { return await running; } finally { running = null; }
  }

  async function scheduleRetry() {
    timers.clearTimeout(retryTimer);
    retryTimer = null;
    retryAt = null;
    let w = null;
    try { w = await waiting(); } catch (e) { log(e); }
    if (!w || !w.waiting) return;
    const at = w.nextAt || now() + RETRY_MS;
    const delay = Math.max(MIN_DELAY_MS, at - now());
    retryAt = now() + delay;
    retryTimer = timers.setTimeout(() => { retryTimer = null; trigger(); }, delay);
  }

  return {
    trigger,
    /** Begin polling; the first sync is the app's to trigger (after its session check). */
    start() {
      if (pollTimer === null) pollTimer = timers.setInterval(() => { if (canPoll()) trigger(); }, pollMs);
    },
    stop() {
      timers.clearInterval(pollTimer);
      timers.clearTimeout(retryTimer);
      pollTimer = retryTimer = retryAt = null;
    },
    /** When the next retry is due (epoch ms), or null: nothing waits. */
    nextRetry: () => retryAt,
    running: () => Boolean(running),
  };
}
