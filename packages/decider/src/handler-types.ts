import type { RetryKind } from "@parley/errors";
import type { StateWrite, Stored } from "./store.js";

// The command handler's internal shapes (handler.ts), kept apart to keep that file short.

/** One key's commands from one call, waiting for (or inside) a batch. */
export interface Pending<Command> {
  readonly key: string;
  readonly commands: readonly Command[];
  conflicts: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export type Outcome<State, Event, Output> =
  | { readonly kind: "failed"; readonly error: unknown }
  | {
      readonly kind: "unchanged";
      readonly stored: Stored<State, Output> | undefined;
      readonly events: readonly (readonly Event[])[];
    }
  | ({ readonly kind: "write" } & Decided<State, Event, Output>);

/** A key's decision to write: its state and outbox, and each command's events. */
export interface Decided<State, Event, Output> {
  readonly write: StateWrite<State, Output>;
  /** How many outbox events an earlier attempt left (they come first). */
  readonly leftover: number;
  readonly events: readonly (readonly Event[])[];
}

/** A key's decision on its way through save, publish and mark. */
export interface Entry<Command, State, Event, Output> extends Decided<State, Event, Output> {
  readonly item: Pending<Command>;
}

/** An outbox event the publish port refused for good, and why. */
export interface Refused<Output> {
  readonly event: Output;
  readonly error: unknown;
}

export const RANK: Readonly<Record<RetryKind, number>> = { outage: 0, bounded: 1, never: 2 };

export const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(String(error));

/** Throws a RangeError naming the first of createCommandHandler's numbers out of range. */
export function checkOptions(options: {
  readonly maxConflicts: number;
  readonly cacheSize: number;
  readonly batchesInFlight: number;
  readonly maxBatchKeys: number;
  readonly markDelayMs: number | undefined;
}): void {
  const { maxConflicts, cacheSize, batchesInFlight, maxBatchKeys, markDelayMs } = options;
  for (const [name, value, min] of [
    ["maxConflicts", maxConflicts, 1],
    ["cacheSize", cacheSize, 0],
    ["batchesInFlight", batchesInFlight, 1],
    ["maxBatchKeys", maxBatchKeys, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(
        `createCommandHandler: ${name} must be a whole number >= ${min}, got ${String(value)}`,
      );
    }
  }
  if (markDelayMs !== undefined && !(Number.isInteger(markDelayMs) && markDelayMs >= 0)) {
    throw new RangeError(
      `createCommandHandler: markDelayMs must be a whole number >= 0, got ${String(markDelayMs)}`,
    );
  }
}
