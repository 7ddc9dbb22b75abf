import { expect } from "vitest";
import {
  decide,
  evolve,
  initialState,
  type ContactFact,
  type ContactState,
  type DecideContext,
  type RouterEvent,
} from "./decide.js";

/**
 * Given/when/then for the inbound decider (conventions 5): given past events, when a fact
 * arrives, then these events (compared by type and data) or nothing. No Kafka, no database.
 */
export function deciderSpec(contactId: string, ctx: DecideContext) {
  return {
    given(...past: readonly RouterEvent[]) {
      const state: ContactState = past.reduce(evolve, initialState(contactId));
      return {
        state,
        when(fact: ContactFact) {
          const emitted = decide(fact, state, ctx);
          return {
            emitted,
            then(...expected: readonly { type: string; data?: unknown }[]) {
              expect(emitted.map((e) => e.type)).toEqual(expected.map((e) => e.type));
              expected.forEach((e, i) => {
                if (e.data !== undefined) expect(emitted[i]?.data).toEqual(e.data);
              });
              return emitted;
            },
            thenNothing() {
              expect(emitted).toEqual([]);
            },
          };
        },
      };
    },
  };
}
