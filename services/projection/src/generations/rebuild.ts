import type { Rollup } from "../projector/rollup.js";
import {
  partitionKey,
  type GenerationInfo,
  type GenerationStore,
  type LogOffsets,
  type PartitionTarget,
} from "./ports.js";

/** A generation's consumer, started by the rebuild and stopped when it has read far enough. */
export interface Building {
  readonly rollup: Rollup;
  stop(): Promise<void>;
}

export interface RebuildProgress {
  readonly generation: number;
  readonly phase: "replaying" | "catching up" | "rolling up" | "switching" | "done";
  /** Records read of those the rebuild must read (from each partition's start to its target). */
  readonly done: number;
  readonly total: number;
  /** Records per second over the last report. */
  readonly rate: number;
  /** Records between the generation's committed offsets and the log's end now. */
  readonly lag: number;
  /** Estimated time left for the replay, ms (undefined until a rate is known). */
  readonly etaMs?: number;
}

export interface RebuildOptions {
  readonly generations: GenerationStore;
  readonly offsets: LogOffsets;
  /** The topics the read models are made from. */
  readonly topics: readonly string[];
  /** The consumer group of a generation. */
  readonly groupOf: (generation: number) => string;
  /**
   * Starts filling `generation` (its indexes, stores and consumer). With `stopAt`, records at or
   * past a partition's offset there are skipped (an as-of rebuild).
   */
  readonly build: (
    generation: number,
    stopAt: ReadonlyMap<string, number> | undefined,
  ) => Promise<Building>;
  /** Removes a generation's collections and consumer group. */
  readonly drop: (generation: number) => Promise<void>;
  readonly clock?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onProgress?: (progress: RebuildProgress) => void;
  readonly progressEveryMs?: number;
  /** A live rebuild switches once the generation is within this many records of the log's end. */
  readonly catchUpRecords?: number;
}

export interface RebuildRequest {
  /** Build the read models as they stood at this instant; such a generation is not switched to. */
  readonly asOf?: Date;
  /** Drop an unfinished generation left by an earlier run instead of resuming it. */
  readonly fresh?: boolean;
}

export interface RebuildResult {
  readonly generation: number;
  readonly resumed: boolean;
  readonly switched: boolean;
  readonly records: number;
  readonly ms: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Why: `parley-projection rebuild`. Replays the log into a fresh generation while the active one
 * keeps serving, then switches in one write; resumes an unfinished generation after a crash (its
 * targets and its group's committed offsets survive); with `asOf`, stops each partition at the
 * first record later than that instant and keeps the generation for audits.
 */
export async function rebuild(
  {
    generations,
    offsets,
    topics,
    groupOf,
    build,
    drop,
    clock = () => new Date(),
    sleep = defaultSleep,
    onProgress = () => undefined,
    progressEveryMs = 1_000,
    catchUpRecords = 1_000,
  }: RebuildOptions,
  { asOf, fresh = false }: RebuildRequest = {},
): Promise<RebuildResult> {
  const started = clock();
  const asOfIso = asOf?.toISOString();
  let info: GenerationInfo | undefined = (await generations.list()).find(
    (g) => g.state === "building" && g.asOf === asOfIso,
  );
  if (info !== undefined && fresh) {
    await drop(info.generation);
    await generations.remove(info.generation);
    info = undefined;
  }
  const resumed = info !== undefined;
  info ??= await generations.create({
    ...(asOfIso === undefined ? {} : { asOf: asOfIso }),
    now: started,
  });
  const generation = info.generation;
  const group = groupOf(generation);

  let targets = info.targets;
  if (targets === undefined) {
    const ends = await offsets.ends(topics);
    const cut = asOf === undefined ? undefined : await offsets.after(topics, asOf);
    targets = ends.map(({ topic, partition, low, high }) => ({
      topic,
      partition,
      low,
      target: Math.min(cut?.get(partitionKey(topic, partition)) ?? high, high),
    }));
    await generations.setTargets(generation, targets);
  }
  const stopAt =
    asOf === undefined
      ? undefined
      : new Map(targets.map((t) => [partitionKey(t.topic, t.partition), t.target]));

  let last = { at: clock().getTime(), done: 0 };
  const measure = async (
    goal: readonly PartitionTarget[],
    phase: RebuildProgress["phase"],
  ): Promise<{ reached: boolean; done: number }> => {
    const [committed, ends] = await Promise.all([
      offsets.committed(group, topics),
      offsets.ends(topics),
    ]);
    let done = 0;
    let total = 0;
    let reached = true;
    for (const t of goal) {
      const at = committed.get(partitionKey(t.topic, t.partition)) ?? t.low;
      done += Math.min(Math.max(at, t.low), t.target) - t.low;
      total += t.target - t.low;
      if (at < t.target && t.target > t.low) reached = false;
    }
    const lag = ends.reduce(
      (n, e) =>
        n + Math.max(0, e.high - (committed.get(partitionKey(e.topic, e.partition)) ?? e.low)),
      0,
    );
    const now = clock().getTime();
    const rate = now > last.at ? Math.max(0, ((done - last.done) * 1_000) / (now - last.at)) : 0;
    last = { at: now, done };
    onProgress({
      generation,
      phase,
      done,
      total,
      rate: Math.round(rate),
      lag,
      ...(rate > 0 ? { etaMs: Math.round(((total - done) / rate) * 1_000) } : {}),
    });
    return { reached, done };
  };

  const building = await build(generation, stopAt);
  let records = 0;
  try {
    for (;;) {
      const { reached, done } = await measure(targets, "replaying");
      records = done;
      if (reached) break;
      await sleep(progressEveryMs);
    }
    // The log moved on while the replay ran: catch up until the rest is small, then switch
    // (the service takes the generation over from its committed offsets).
    while (asOf === undefined) {
      const [ends, committed] = await Promise.all([
        offsets.ends(topics),
        offsets.committed(group, topics),
      ]);
      const goal = ends.map(({ topic, partition, high }) => ({
        topic,
        partition,
        low: committed.get(partitionKey(topic, partition)) ?? 0,
        target: high,
      }));
      const behind = goal.reduce((n, g) => n + Math.max(0, g.target - g.low), 0);
      if (behind <= catchUpRecords) break;
      for (;;) {
        const { reached } = await measure(goal, "catching up");
        if (reached) break;
        await sleep(progressEveryMs);
      }
    }
  } finally {
    await building.stop();
  }
  onProgress({ generation, phase: "rolling up", done: records, total: records, rate: 0, lag: 0 });
  await building.rollup.drain();
  let switched = false;
  if (asOf === undefined) {
    onProgress({ generation, phase: "switching", done: records, total: records, rate: 0, lag: 0 });
    const from = await generations.activeOrFirst(clock());
    switched = from === generation || (await generations.switchTo(generation, from, clock()));
  } else {
    await generations.complete(generation, clock());
  }
  onProgress({ generation, phase: "done", done: records, total: records, rate: 0, lag: 0 });
  return { generation, resumed, switched, records, ms: clock().getTime() - started.getTime() };
}
