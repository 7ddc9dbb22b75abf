/**
 * Generations: each full set of read models is generation N, built from the log by its own
 * consumer group. One generation is active (the query API reads it, the service keeps it
 * current); a rebuild fills generation N+1 beside it and then switches the pointer in one write.
 * An as-of generation is built up to a moment and kept for audits; it is never active.
 */
export type GenerationState = "building" | "complete" | "live" | "retired";

/** How far a rebuild reads one partition: from `low` (its earliest offset) to `target`. */
export interface PartitionTarget {
  readonly topic: string;
  readonly partition: number;
  readonly low: number;
  /** The first offset not to apply (the end at the start, or the as-of cut). */
  readonly target: number;
}

export interface GenerationInfo {
  readonly generation: number;
  readonly state: GenerationState;
  /** An as-of generation: the read models as they stood at this instant (Kafka timestamps). */
  readonly asOf?: string;
  readonly startedAt: string;
  readonly completedAt?: string;
  readonly switchedAt?: string;
  readonly targets?: readonly PartitionTarget[];
}

/** Port: the generations' records and the active pointer (MongoDB). */
export interface GenerationStore {
  /** The active generation; creates generation 1 as active when there is none yet. */
  activeOrFirst(now: Date): Promise<number>;
  active(): Promise<number | undefined>;
  get(generation: number): Promise<GenerationInfo | undefined>;
  list(): Promise<readonly GenerationInfo[]>;
  /** A new generation, numbered after every existing one, in state `building`. */
  create(options: { readonly asOf?: string; readonly now: Date }): Promise<GenerationInfo>;
  setTargets(generation: number, targets: readonly PartitionTarget[]): Promise<void>;
  /** An as-of generation is finished (kept for audits). */
  complete(generation: number, now: Date): Promise<void>;
  /**
   * Makes `generation` active if `from` still is (compare-and-set on the one pointer document):
   * readers move in one step. False when another switch came first.
   */
  switchTo(generation: number, from: number, now: Date): Promise<boolean>;
  remove(generation: number): Promise<void>;
}

/** One partition's offsets. */
export interface PartitionOffsets {
  readonly topic: string;
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

/** Port: what the log says about offsets (Kafka's admin API). */
export interface LogOffsets {
  ends(topics: readonly string[]): Promise<readonly PartitionOffsets[]>;
  /** Per partition, the first offset whose record is later than `at` (the high mark if none). */
  after(topics: readonly string[], at: Date): Promise<ReadonlyMap<string, number>>;
  /** A group's committed offsets ("next to read"); partitions without one are absent. */
  committed(groupId: string, topics: readonly string[]): Promise<ReadonlyMap<string, number>>;
  deleteGroup(groupId: string): Promise<void>;
}

/** The key of a partition in the maps above. */
export const partitionKey = (topic: string, partition: number): string =>
  `${topic}:${String(partition)}`;
