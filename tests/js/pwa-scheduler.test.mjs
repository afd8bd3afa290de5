// When the PWA syncs (pwa/js/scheduler.js), with fake timers and clock: one run at a time, one more run
// for triggers during a run, retries at the engine's backoff time, the poll while it is useful.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSyncScheduler, POLL_MS, RETRY_MS, MIN_DELAY_MS } from '../../pwa/js/scheduler.js';

function fakeTimers(start = 1_000_000) {
  let now = start;
  let next = 1;
  const pending = new Map(); // id -> {at, fn, every}
  const add = (fn, ms, every) => { const id = next++; pending.set(id, { at: now + ms, fn, every: every ? ms : 0 }); return id; };
  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms, false),
    clearTimeout: (id) => { pending.delete(id); },
    setInterval: (fn, ms) => add(fn, ms, true),
    clearInterval: (id) => { pending.delete(id); },
    count: () => pending.size,
    /** Move the clock on, firing what falls due (in time order). */
    async tick(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        const [id, t] = due;
        now = t.at;
        if (t.every) t.at += t.every; else pending.delete(id);
        t.fn();
        await settle();
      }
      now = end;
      await settle();
    },
  };
}

const settle = () => new Promise((r) => setImmediate(r));

function gate() {
  let open;
  const p = new Promise((r) => { open = r; });
  return { p, open };
}

function setup({ waiting = { waiting: false, nextAt: null }, canPoll = () => true } = {}) {
  const timers = fakeTimers();
  const runs = [];
  const logged = [];
  let hold = null;
  let w = waiting;
  const s = createSyncScheduler({
    run: async (force) => { runs.push(force); if (hold) await hold.p; return { kind: 'ok', n: runs.length }; },
    waiting: async () => w,
    canPoll, timers, now: timers.now, log: (e) => logged.push(e),
  });
  return { s, timers, runs, logged, hold: (g) => { hold = g; }, setWaiting: (v) => { w = v; } };
}

test('one run at a time: triggers during a run make exactly one more run, a force is kept', async () => {
  const h = setup();
  const g = gate();
  h.hold(g);
  const a = h.s.trigger();
  const b = h.s.trigger();
  const c = h.s.trigger({ force: true });
  assert.equal(h.s.running(), true);
  h.hold(null);
  g.open();
  const results = await Promise.all([a, b, c]);
  assert.deepEqual(h.runs, [false, true]); // the first run, then one more (forced: the retry button was pressed)
  assert.deepEqual(results.map((r) => r.n), [2, 2, 2]); // every caller gets the state after the last run
  assert.equal(h.s.running(), false);
  await h.s.trigger();
  assert.deepEqual(h.runs, [false, true, false]);
});

test('a failing run is logged and the scheduler keeps working', async () => {
  const timers = fakeTimers();
  const logged = [];
  let fail = true;
  const s = createSyncScheduler({
    run: async () => { if (fail) throw new Error('network'); return { kind: 'ok' }; },
    waiting: async () => ({ waiting: false }), timers, now: timers.now, log: (e) => logged.push(e.message),
  });
  assert.equal(await s.trigger(), null);
  fail = false;
  assert.deepEqual(await s.trigger(), { kind: 'ok' });
  assert.deepEqual(logged, ['network']);
});

test('while something waits, it retries at the backoff time (at least 1 s later), else in 30 s', async () => {
  const h = setup({ waiting: { waiting: true, nextAt: null } });
  await h.s.trigger();
  const t0 = h.timers.now();
  assert.equal(h.s.nextRetry(), t0 + RETRY_MS);
  await h.timers.tick(RETRY_MS - 1);
  assert.equal(h.runs.length, 1);
  const backoffAt = h.timers.now() + 1 + 5000;
  h.setWaiting({ waiting: true, nextAt: backoffAt });
  await h.timers.tick(1);
  assert.equal(h.runs.length, 2); // the retry ran ...
  assert.equal(h.s.nextRetry(), backoffAt); // ... and the next one follows the engine's backoff
  h.setWaiting({ waiting: true, nextAt: h.timers.now() - 10 }); // already due: not a busy loop
  await h.timers.tick(5000);
  assert.equal(h.runs.length, 3);
  assert.equal(h.s.nextRetry(), h.timers.now() + MIN_DELAY_MS);
  h.setWaiting({ waiting: false, nextAt: null });
  await h.timers.tick(MIN_DELAY_MS);
  assert.equal(h.runs.length, 4);
  assert.equal(h.s.nextRetry(), null); // nothing waits: no retry
  await h.timers.tick(10 * RETRY_MS);
  assert.equal(h.runs.length, 4);
});

test('a sync triggered meanwhile replaces the pending retry (one timer, not one per run)', async () => {
  const h = setup({ waiting: { waiting: true, nextAt: null } });
  await h.s.trigger();
  await h.timers.tick(10000);
  await h.s.trigger();
  assert.equal(h.timers.count(), 1);
  assert.equal(h.s.nextRetry(), h.timers.now() + RETRY_MS);
  await h.timers.tick(RETRY_MS - 10000);
  assert.equal(h.runs.length, 2); // the first retry time passed without a run
});

test('the poll runs every 30 s only while useful (online, visible, signed in); stop ends it', async () => {
  let useful = false;
  const h = setup({ canPoll: () => useful });
  h.s.start();
  h.s.start(); // idempotent
  await h.timers.tick(POLL_MS);
  assert.equal(h.runs.length, 0);
  useful = true;
  await h.timers.tick(POLL_MS);
  assert.equal(h.runs.length, 1);
  await h.timers.tick(POLL_MS);
  assert.equal(h.runs.length, 2);
  h.s.stop();
  await h.timers.tick(5 * POLL_MS);
  assert.equal(h.runs.length, 2);
  assert.equal(h.timers.count(), 0);
});

test('a trigger while the run ends (reading what still waits) is not lost', async () => {
  const timers = fakeTimers();
  const runs = [];
  const reading = gate();
  let calls = 0;
  const s = createSyncScheduler({
    run: async (force) => { runs.push(force); return { kind: 'ok' }; },
    // The first run's end waits here; an edit committed meanwhile triggers a sync.
    waiting: async () => { calls += 1; if (calls === 1) await reading.p; return { waiting: false, nextAt: null }; },
    timers, now: timers.now, log: () => {},
  });
  const first = s.trigger();
  await settle();
  assert.equal(runs.length, 1);
  const second = s.trigger({ force: true });
  reading.open();
  await Promise.all([first, second]);
  await settle();
  assert.deepEqual(runs, [false, true]); // the edit's sync ran at once, forced as asked
  assert.equal(s.running(), false);
});
