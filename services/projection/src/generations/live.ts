import type { Rollup } from "../projector/rollup.js";
import type { GenerationStore } from "./ports.js";

/** The active generation being kept current: its consumer and its analytics rollup. */
export interface RunningGeneration {
  readonly generation: number;
  readonly rollup: Rollup;
  stop(): Promise<void>;
}

export interface LiveProjection {
  start(): Promise<void>;
  /** The generation the service keeps current (and the query API reads by default). */
  active(): number;
  stop(): Promise<void>;
}

export interface LiveProjectionOptions {
  readonly generations: GenerationStore;
  readonly run: (generation: number) => Promise<RunningGeneration>;
  readonly pollMs: number;
  readonly rollupMs: number;
  readonly clock?: () => Date;
  /** A round that failed (a switch, a rollup); the next round tries again. */
  readonly onError?: (what: "switch" | "rollup", error: unknown) => void;
  readonly onSwitch?: (from: number, to: number) => void;
  /**
   * False: serve only (another process keeps the generations current): the active generation is
   * followed, nothing is consumed or rolled up.
   */
  readonly consume?: boolean;
}

/**
 * Why: the service keeps the active generation current and follows a rebuild's switch: every
 * `pollMs` it reads the active pointer and, when it moved, stops the old generation's consumer
 * and starts the new one's, which goes on from the offsets the rebuild committed. Every
 * `rollupMs` it recomputes the analytics buckets whose facts changed.
 */
export function createLiveProjection({
  generations,
  run,
  pollMs,
  rollupMs,
  clock = () => new Date(),
  onError = () => undefined,
  onSwitch = () => undefined,
  consume = true,
}: LiveProjectionOptions): LiveProjection {
  if (!consume) return followActive(generations, pollMs, clock, onError, onSwitch);
  let running: RunningGeneration | undefined;
  let stopped = false;
  let poller: NodeJS.Timeout | undefined;
  let roller: NodeJS.Timeout | undefined;
  let work: Promise<void> = Promise.resolve();

  /** One thing at a time: a switch never overlaps a rollup round or another switch. */
  const serial = (task: () => Promise<void>) => {
    work = work.then(task, task);
    return work;
  };

  const follow = () =>
    serial(async () => {
      if (stopped || running === undefined) return;
      try {
        const active = await generations.active();
        if (active === undefined || active === running.generation) return;
        const from = running.generation;
        await running.stop();
        running = await run(active);
        onSwitch(from, active);
      } catch (error) {
        onError("switch", error);
      }
    });

  const roll = () =>
    serial(async () => {
      if (stopped || running === undefined) return;
      try {
        await running.rollup.runOnce();
      } catch (error) {
        onError("rollup", error);
      }
    });

  return {
    async start() {
      const active = await generations.activeOrFirst(clock());
      running = await run(active);
      poller = setInterval(() => void follow(), pollMs);
      roller = setInterval(() => void roll(), rollupMs);
    },
    active: () => running?.generation ?? 0,
    async stop() {
      stopped = true;
      clearInterval(poller);
      clearInterval(roller);
      await work;
      await running?.stop();
    },
  };
}

/** The active generation, followed (a query-only process: PROJECTION_ROLE=api). */
function followActive(
  generations: GenerationStore,
  pollMs: number,
  clock: () => Date,
  onError: (what: "switch" | "rollup", error: unknown) => void,
  onSwitch: (from: number, to: number) => void,
): LiveProjection {
  let active = 0;
  let poller: NodeJS.Timeout | undefined;
  const poll = async () => {
    try {
      const now = await generations.active();
      if (now !== undefined && now !== active) {
        onSwitch(active, now);
        active = now;
      }
    } catch (error) {
      onError("switch", error);
    }
  };
  return {
    async start() {
      active = await generations.activeOrFirst(clock());
      poller = setInterval(() => void poll(), pollMs);
    },
    active: () => active,
    stop() {
      clearInterval(poller);
      return Promise.resolve();
    },
  };
}
