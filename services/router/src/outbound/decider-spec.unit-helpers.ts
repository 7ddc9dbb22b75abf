import { expect } from "vitest";
import { decide, type OutboundCommand, type OutboundContext } from "./decide.js";
import {
  evolve,
  initialState,
  isOutput,
  type OutboundEvent,
  type OutboundOutput,
  type OutboundState,
} from "./evolve.js";

type Expected = { readonly type: string; readonly data?: unknown };

/**
 * Given/when/then for the outbound decider (conventions 5): given past events (consent, windows,
 * earlier decisions), when a command arrives, then these published events (compared by type and,
 * where given, a subset of their data) or nothing. No Kafka, no database.
 */
export function outboundSpec(contactId: string, ctx: OutboundContext) {
  return {
    given(...past: readonly OutboundEvent[]) {
      const state: OutboundState = past.reduce(evolve, initialState(contactId));
      return {
        state,
        when(command: OutboundCommand) {
          const emitted = decide(command, state, ctx);
          const published = emitted.filter(isOutput);
          return {
            emitted,
            published,
            next: emitted.reduce(evolve, state),
            then(...expected: readonly Expected[]): OutboundOutput[] {
              expect(published.map((e) => e.type)).toEqual(expected.map((e) => e.type));
              expected.forEach((e, i) => {
                if (e.data !== undefined)
                  expect(published[i]?.data).toMatchObject(e.data as object);
              });
              return published;
            },
            thenNothing() {
              expect(published).toEqual([]);
            },
          };
        },
      };
    },
  };
}
