import { outputsOf, type Decider } from "@parley/decider";
import { expect } from "vitest";

/** An expected event: its type, and (when given) its `data`. */
export interface ExpectedEvent {
  readonly type: string;
  readonly data?: unknown;
}

export interface DeciderSpecOptions<Context> {
  /** The key (aggregate instance) the spec's state starts from (`initialState(key)`). */
  readonly key: string;
  /** The context `decide` gets unless a `when` passes its own. */
  readonly context: Context;
  /** How `then` compares `data`: "exact" (toEqual, the default) or "subset" (toMatchObject). */
  readonly match?: "exact" | "subset";
}

export interface DeciderWhen<State, Event, Output> {
  /** Everything `decide` returned: published outputs and internal records. */
  readonly events: readonly Event[];
  /** The published outputs among them, in order. */
  readonly published: readonly Output[];
  /** The state after evolving every event. */
  readonly next: State;
  /** The published outputs are these, by type and (where given) data; returns them. */
  then(...expected: readonly ExpectedEvent[]): readonly Output[];
  /** Nothing is published (internal records may still be decided). */
  thenNothing(): void;
  /** The state after the decision equals `expected`, or passes the given assertions. */
  thenState(expected: State | ((next: State) => void)): void;
  /** `decide` threw; `expected` as for vitest's toThrow (a class, a message pattern). */
  thenThrows(expected?: RegExp | string | (abstract new (...args: never[]) => Error)): void;
}

export interface DeciderGiven<State, Command, Event, Context, Output> {
  /** The state after the past events. */
  readonly state: State;
  when(command: Command, context?: Context): DeciderWhen<State, Event, Output>;
}

const dataOf = (event: unknown): unknown =>
  typeof event === "object" && event !== null ? (event as { data?: unknown }).data : undefined;

/**
 * Given/when/then for any decider (conventions 5): given past events, when a command arrives,
 * then these published events (by type and data), or nothing, or this next state. Pure: no
 * Kafka, no database, no handler. One helper for every aggregate.
 */
export function deciderSpec<
  State,
  Command,
  Event extends { readonly type: string },
  Context,
  Output extends Event,
>(
  decider: Decider<State, Command, Event, Context, Output>,
  { key, context, match = "exact" }: DeciderSpecOptions<Context>,
) {
  return {
    given(...past: readonly Event[]): DeciderGiven<State, Command, Event, Context, Output> {
      let state = decider.initialState(key);
      for (const event of past) state = decider.evolve(state, event);
      const before = state;
      return {
        state: before,
        when(command, ctx = context) {
          let outcome: { events: readonly Event[] } | { error: unknown };
          try {
            outcome = { events: decider.decide(command, before, ctx) };
          } catch (error) {
            outcome = { error };
          }
          const decided = (): readonly Event[] => {
            if ("error" in outcome) throw outcome.error;
            return outcome.events;
          };
          const published = () => outputsOf(decider, decided());
          const next = () => {
            let after = before;
            for (const event of decided()) after = decider.evolve(after, event);
            return after;
          };
          return {
            get events() {
              return decided();
            },
            get published() {
              return published();
            },
            get next() {
              return next();
            },
            then(...expected) {
              const outputs = published();
              expect(outputs.map((e) => e.type)).toEqual(expected.map((e) => e.type));
              expected.forEach((e, i) => {
                if (e.data === undefined) return;
                const actual = dataOf(outputs[i]);
                if (match === "subset") expect(actual).toMatchObject(e.data as object);
                else expect(actual).toEqual(e.data);
              });
              return outputs;
            },
            thenNothing() {
              expect(published()).toEqual([]);
            },
            thenState(expected) {
              if (typeof expected === "function") (expected as (next: State) => void)(next());
              else expect(next()).toEqual(expected);
            },
            thenThrows(expected) {
              expect(decided).toThrow(expected);
            },
          };
        },
      };
    },
  };
}
