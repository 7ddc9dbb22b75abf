import { evolveAll, outputsOf, type Decider } from "./decider.js";
import type { Outcome, Pending } from "./handler-types.js";
import type { Reconsider } from "./handler.js";
import type { Stored } from "./store.js";

/**
 * The decide step of the runtime (ADR 0010) for one key of a batch: its commands in order, each
 * given a second look by `reconsider`, then the write the batch saves (state bounded by `retain`,
 * the outbox an earlier attempt left first) or "unchanged".
 */
export function createKeyDecider<State, Command, Event, Context, Output extends Event>({
  decider,
  reconsider,
  retain,
}: {
  readonly decider: Decider<State, Command, Event, Context, Output>;
  readonly reconsider: Reconsider<Command, Event, Context> | undefined;
  readonly retain: ((state: State, now: Date) => State) | undefined;
}) {
  /** One key's decisions so far in a batch: the state they lead to, their events and outputs. */
  interface Run {
    state: State;
    readonly decided: (readonly Event[])[];
    readonly outputs: Output[];
  }

  const apply = (run: Run, events: readonly Event[]) => {
    run.state = evolveAll(decider, run.state, events);
    run.decided.push(events);
    run.outputs.push(...outputsOf(decider, events));
  };

  const outcomeOf = (
    key: string,
    stored: Stored<State, Output> | undefined,
    { state, decided, outputs }: Run,
    now: Date,
  ): Outcome<State, Event, Output> => {
    const unpublished = stored?.outbox ?? [];
    if (unpublished.length === 0 && decided.every((events) => events.length === 0)) {
      return { kind: "unchanged", stored, events: decided };
    }
    return {
      kind: "write",
      events: decided,
      leftover: unpublished.length,
      write: {
        key,
        state: retain === undefined ? state : retain(state, now),
        // What an earlier attempt left unpublished goes first, so the key's order holds.
        outbox: [...unpublished, ...outputs],
        expectedVersion: stored?.version ?? 0,
      },
    };
  };

  /**
   * Decides a key's commands in order. Synchronous unless `reconsider` answers with a promise
   * (a second look that does I/O): the rest of that key's commands then follow it. A promise per
   * command, awaited or not, was a share of the runtime's CPU and garbage (issue 31).
   */
  const decideFor = (
    { key, commands }: Pending<Command>,
    stored: Stored<State, Output> | Error | undefined,
    contexts: readonly (Context | Error)[],
    now: Date,
  ): Outcome<State, Event, Output> | Promise<Outcome<State, Event, Output>> => {
    if (stored instanceof Error) return { kind: "failed", error: stored };
    const run: Run = {
      state: stored?.state ?? decider.initialState(key),
      decided: [],
      outputs: [],
    };
    /** From command `from` on; a promise once a second look is asynchronous. */
    const decideFrom = (
      from: number,
    ): Outcome<State, Event, Output> | Promise<Outcome<State, Event, Output>> => {
      for (let index = from; index < commands.length; index++) {
        const command = commands[index] as Command;
        const ctx = contexts[index];
        if (ctx instanceof Error) return { kind: "failed", error: ctx };
        const events = decider.decide(command, run.state, ctx as Context);
        const again = reconsider?.({ key, command, events, context: ctx as Context });
        if (again instanceof Promise) {
          return again.then((fresh) => {
            apply(run, fresh === undefined ? events : decider.decide(command, run.state, fresh));
            return decideFrom(index + 1);
          });
        }
        apply(run, again === undefined ? events : decider.decide(command, run.state, again));
      }
      return outcomeOf(key, stored, run, now);
    };
    const failed = (error: unknown): Outcome<State, Event, Output> => ({ kind: "failed", error });
    try {
      const outcome = decideFrom(0);
      return outcome instanceof Promise ? outcome.catch(failed) : outcome;
    } catch (error) {
      return failed(error);
    }
  };

  return decideFor;
}
