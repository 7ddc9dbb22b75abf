/** Time source and timer scheduler, injectable so tests run days of simulated time instantly. */
export interface Clock {
  now(): number;
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (delayMs, fn) => {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return t;
  },
  clearTimer: (h) => {
    clearTimeout(h as ReturnType<typeof setTimeout>);
  },
};

export interface ManualClock extends Clock {
  /** Moves time forward, running every timer that falls due in order (timers may add timers). */
  advance(ms: number): void;
  /** Number of timers still waiting. */
  pending(): number;
}

/** A clock that only moves when told to. Runs at most `maxTimersPerAdvance` timers per call. */
export function createManualClock(
  startMs = Date.UTC(2026, 0, 1),
  maxTimersPerAdvance = 1_000_000,
): ManualClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  function nextDue(until: number): { id: number; at: number; fn: () => void } | undefined {
    let best: { id: number; at: number; seq: number; fn: () => void } | undefined;
    for (const [id, t] of timers) {
      if (t.at <= until && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)))
        best = { id, ...t };
    }
    return best;
  }

  return {
    now: () => now,
    setTimer(delayMs, fn) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, delayMs), seq: id, fn });
      return id;
    },
    clearTimer(h) {
      timers.delete(h as number);
    },
    advance(ms) {
      const until = now + ms;
      for (let i = 0; i < maxTimersPerAdvance; i++) {
        const due = nextDue(until);
        if (!due) break;
        timers.delete(due.id);
        now = Math.max(now, due.at);
        due.fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}
