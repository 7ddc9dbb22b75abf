/**
 * One aggregate's behaviour, pure (conventions 2): what it decides for a command given its state,
 * and how an event changes that state. The runtime (createCommandHandler) does all the I/O around
 * it, so the same decider runs in unit tests, in the handler and in a replay.
 *
 * - `State`: what one key's decisions depend on; immutable, bounded by the handler's `retain`.
 * - `Command`: what is asked (a fact observed, a request to act).
 * - `Event`: what `decide` returns: published outputs and internal records alike; `evolve` folds
 *   every one of them into the state.
 * - `Context`: what `decide` needs from outside (`now`, settings, read-only lookups), loaded by the
 *   handler per command before deciding; never I/O done by `decide` itself.
 * - `Output`: the events that leave the aggregate (the outbox, then the publish port).
 */
export interface Decider<State, Command, Event, Context = void, Output extends Event = Event> {
  /** The state of a key nothing has been decided for yet. */
  initialState(key: string): State;
  /**
   * The events that `command` causes in `state`. Pure: no I/O, no clock, no randomness; ids are
   * derived from the input. Must recognise a command it has already applied and return nothing
   * new for it: a crash after the save re-runs the input (see ADR 0010).
   */
  decide(command: Command, state: State, context: Context): readonly Event[];
  /** The state after `event`. Pure and total over every event `decide` returns. */
  evolve(state: State, event: Event): State;
  /**
   * Which events are published outputs; the others are internal records that only change the
   * state. Absent: every event is published.
   */
  isPublished?(event: Event): event is Output;
}

/** A command addressed to one key (the aggregate instance: a contact, a WABA, a media id). */
export interface Keyed<Command> {
  readonly key: string;
  readonly command: Command;
}

/** The published outputs among a decision's events, in order. */
export function outputsOf<State, Command, Event, Context, Output extends Event>(
  decider: Decider<State, Command, Event, Context, Output>,
  events: readonly Event[],
): Output[] {
  if (decider.isPublished === undefined) return [...events] as Output[];
  return events.filter((event): event is Output => decider.isPublished?.(event) === true);
}

/** The state after `events`, folded with `decider.evolve` from `state`. */
export function evolveAll<State, Command, Event, Context, Output extends Event>(
  decider: Decider<State, Command, Event, Context, Output>,
  state: State,
  events: readonly Event[],
): State {
  let next = state;
  for (const event of events) next = decider.evolve(next, event);
  return next;
}
