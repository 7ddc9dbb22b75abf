/**
 * Each read model's `decide` applies its command to find out whether anything changes, and
 * `evolve` then applies the same command to the same state again: twice the work for one answer.
 * The `Applied` event `decide` returns remembers the state it was decided on and the state it
 * leads to, so `evolve` of that event on that very state (the runtime's case) takes the result
 * instead of computing it again. Any other state (a replay, a test folding events by hand) is
 * applied as before: the remembered result is what applying gives, since applying is pure.
 */
const after = new WeakMap<object, { readonly from: unknown; readonly to: unknown }>();

/** The `Applied` event of `command`, remembering that it takes `from` to `to`. */
export function appliedEvent<C, S>(command: C, from: S, to: S): { type: "Applied"; command: C } {
  const event = { type: "Applied" as const, command };
  after.set(event, { from, to });
  return event;
}

/** The state after `event` applied to `state`: remembered when decided on this state. */
export function stateAfter<S>(state: S, event: object, apply: () => S): S {
  const known = after.get(event);
  return known !== undefined && known.from === state ? (known.to as S) : apply();
}
