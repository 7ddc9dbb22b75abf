import { performance } from "node:perf_hooks";

/** Cumulative milliseconds the event loop spent working and waiting (`eventLoopUtilization`). */
export interface LoopTime {
  readonly active: number;
  readonly idle: number;
}

export interface LaneGateOptions {
  /** Longest a receipt waits for the first lanes to go quiet before it goes anyway (ms). */
  readonly maxWaitMs: number;
  /**
   * Below this share of the event loop busy while a receipt waits, there is CPU to spare and it
   * goes even though first-lane work is in flight (that work is waiting for I/O, not for CPU).
   */
  readonly spareBelow: number;
  /** How often waiting receipts look again (ms); also the shortest span the share is read over. */
  readonly tickMs?: number;
  /** Injectable for tests: the loop's cumulative times, and a clock in ms. */
  readonly loop?: () => LoopTime;
  readonly now?: () => number;
}

/**
 * Two raw lanes (ADR 0004): the router serves messages and sends first, receipts after. Work of
 * a first lane (a webhook of the main lane, a send request) runs through `first`; a receipt
 * (a webhook of the statuses lane) awaits `turn` before it is decided. Its turn comes as soon as
 * no first-lane work is in flight, or the loop was mostly idle while it waited (the work in
 * flight waits on I/O: no CPU to protect), or after `maxWaitMs` at the latest, so receipts are
 * slowed under load, never starved. Never rejects.
 */
export interface LaneGate {
  first<T>(work: () => Promise<T>): Promise<T>;
  turn(): Promise<void>;
  /** First-lane work in flight and receipts waiting (for metrics and tests). */
  readonly state: { readonly firstInFlight: number; readonly waiting: number };
}

interface Waiter {
  readonly since: number;
  readonly loop: LoopTime;
  readonly go: () => void;
}

const elu = (): LoopTime => {
  const { active, idle } = performance.eventLoopUtilization();
  return { active, idle };
};

export function createLaneGate({
  maxWaitMs,
  spareBelow,
  tickMs = 20,
  loop = elu,
  now = () => performance.now(),
}: LaneGateOptions): LaneGate {
  if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new RangeError(`createLaneGate: maxWaitMs must be >= 0, got ${maxWaitMs}`);
  }
  if (!(spareBelow >= 0 && spareBelow <= 1)) {
    throw new RangeError(`createLaneGate: spareBelow must be within [0, 1], got ${spareBelow}`);
  }
  let inFlight = 0;
  let waiters: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;

  const releaseAll = () => {
    const going = waiters;
    waiters = [];
    for (const w of going) w.go();
  };
  const stopTicking = () => {
    if (timer !== undefined && waiters.length === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const tick = () => {
    if (inFlight === 0) releaseAll();
    else {
      const t = now();
      const current = loop();
      waiters = waiters.filter((w) => {
        const waited = t - w.since;
        const active = current.active - w.loop.active;
        const total = active + (current.idle - w.loop.idle);
        const spare = waited >= tickMs && total > 0 && active / total < spareBelow;
        if (waited < maxWaitMs && !spare) return true;
        w.go();
        return false;
      });
    }
    stopTicking();
  };

  return {
    async first(work) {
      inFlight += 1;
      try {
        return await work();
      } finally {
        inFlight -= 1;
        if (inFlight === 0 && waiters.length > 0) {
          releaseAll();
          stopTicking();
        }
      }
    },
    turn() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((go) => {
        waiters.push({ since: now(), loop: loop(), go });
        timer ??= setInterval(tick, tickMs).unref();
      });
    },
    get state() {
      return { firstInFlight: inFlight, waiting: waiters.length };
    },
  };
}

/** A handler a lane wraps: the inbound and the outbound handlers both have this shape. */
export interface LaneHandler<Input> {
  handle(input: Input): Promise<void>;
  flush(): Promise<void>;
}

/** `handler` as first-lane work: receipts wait while it runs. */
export const firstLane = <Input>(
  gate: LaneGate,
  handler: LaneHandler<Input>,
): LaneHandler<Input> => ({
  handle: (input) => gate.first(() => handler.handle(input)),
  flush: () => handler.flush(),
});

/** `handler` as the receipts lane: each input waits for its turn first. */
export const receiptLane = <Input>(
  gate: LaneGate,
  handler: LaneHandler<Input>,
): LaneHandler<Input> => ({
  handle: async (input) => {
    await gate.turn();
    await handler.handle(input);
  },
  flush: () => handler.flush(),
});
