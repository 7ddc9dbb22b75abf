import { ParleyError } from "@parley/errors";
import type { Decider } from "./decider.js";
import type { Publish, StateStore } from "./store.js";

/**
 * A small order-sensitive decider for the runtime's tests: each command adds to a running total,
 * so a key's published totals show whether its commands were decided once each and in order.
 */
export interface TallyCommand {
  readonly id: string;
  readonly add: number;
  /** Nests the output's payload this deep (a document no store accepts past 100). */
  readonly deep?: number;
  /** The publish port refuses the output for good (see refusingPublisher). */
  readonly toxic?: boolean;
  /** Decides only an internal record, nothing published. */
  readonly quiet?: boolean;
}

export interface Added {
  readonly type: "Added";
  /** Derived from the key and the command: a replay carries the same id. */
  readonly id: string;
  readonly key: string;
  readonly data: {
    readonly commandId: string;
    readonly total: number;
    readonly toxic: boolean;
    readonly payload: unknown;
  };
}

export interface Noted {
  readonly type: "Noted";
  readonly commandId: string;
}

export type TallyEvent = Added | Noted;

export interface TallyState {
  readonly key: string;
  readonly total: number;
  /** Commands applied, so a redelivery decides nothing. */
  readonly seen: readonly string[];
}

export interface TallyContext {
  readonly now: Date;
  /** Added to every output's total (shows which context a decision used). */
  readonly bonus?: number;
}

export const nested = (depth: number): unknown => {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = { inner: value };
  return value;
};

export const tally: Decider<TallyState, TallyCommand, TallyEvent, TallyContext, Added> = {
  initialState: (key) => ({ key, total: 0, seen: [] }),
  decide(command, state, { bonus = 0 }) {
    if (state.seen.includes(command.id)) return [];
    const noted: Noted = { type: "Noted", commandId: command.id };
    if (command.quiet === true) return [noted];
    const added: Added = {
      type: "Added",
      id: `${state.key}:${command.id}`,
      key: state.key,
      data: {
        commandId: command.id,
        total: state.total + command.add + bonus,
        toxic: command.toxic === true,
        payload: command.deep === undefined ? null : nested(command.deep),
      },
    };
    return [added, noted];
  },
  evolve(state, event) {
    if (event.type === "Added") return { ...state, total: event.data.total };
    return { ...state, seen: [...state.seen, event.commandId] };
  },
  isPublished: (event): event is Added => event.type === "Added",
};

export const outage = (what: string) => new ParleyError(`${what} unavailable`, { retry: "outage" });
export const refused = (what: string) => new ParleyError(`${what} refused`, { retry: "never" });

/** Every call a store received, by operation and size ("save:3"), for group-commit checks. */
export interface StoreProbe<S, O> {
  readonly store: StateStore<S, O>;
  readonly calls: string[];
  /** Runs before each operation reaches the wrapped store; may throw or change the store. */
  readonly before: {
    loadMany?: ((keys: readonly string[]) => void) | undefined;
    saveMany?: ((keys: readonly string[]) => void) | undefined;
    markPublished?: ((keys: readonly string[]) => void) | undefined;
  };
}

export function probe<S, O>(inner: StateStore<S, O>): StoreProbe<S, O> {
  const calls: string[] = [];
  const before: StoreProbe<S, O>["before"] = {};
  const step = async <T>(
    name: "loadMany" | "saveMany" | "markPublished",
    keys: readonly string[],
    work: () => Promise<T>,
  ): Promise<T> => {
    calls.push(`${name.replace(/Many|Published/, "")}:${keys.length}`);
    before[name]?.(keys);
    return work();
  };
  return {
    calls,
    before,
    store: {
      loadMany: (keys) => step("loadMany", keys, () => inner.loadMany(keys)),
      saveMany: (writes) =>
        step(
          "saveMany",
          writes.map((w) => w.key),
          () => inner.saveMany(writes),
        ),
      markPublished: (marks) =>
        step(
          "markPublished",
          marks.map((m) => m.key),
          () => inner.markPublished(marks),
        ),
    },
  };
}

/** A publish port that records what it appends and refuses toxic events for good. */
export function refusingPublisher() {
  const published: Added[] = [];
  /** The size of every publish call. */
  const publishCalls: number[] = [];
  const faults: { next: Error[] } = { next: [] };
  const publish: Publish<Added> = (events) => {
    publishCalls.push(events.length);
    const fault = faults.next.shift();
    if (fault !== undefined) return Promise.reject(fault);
    if (events.some((e) => e.data.toxic)) return Promise.reject(refused("event too large"));
    published.push(...events);
    return Promise.resolve();
  };
  return { publish, published, publishCalls, faults };
}

/** The outputs of one key, as published. */
export const ofKey = (events: readonly Added[], key: string) =>
  events.filter((e) => e.key === key).map((e) => `${e.data.commandId}=${e.data.total}`);
