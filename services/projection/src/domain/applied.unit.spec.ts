import { createEvent, type MessageStatus } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { appliedEvent, stateAfter } from "./applied.js";
import type { Observed } from "./facts.js";
import { applyToMessage, messageDecider, type MessageState } from "./message.js";

const WAMID = "wamid.MEMO1";
const T0 = Date.parse("2026-03-01T10:00:00.000Z");
const STATUSES: readonly MessageStatus[] = ["sent", "delivered", "read", "failed"];

const observed = (status: MessageStatus, atMs: number, n: number): Observed => ({
  type: "Observed",
  event: createEvent(
    "StatusUpdated",
    {
      contactId: "16505551234",
      wamid: WAMID,
      status,
      origin: { deliveryId: `d-${String(n)}`, wabaId: "102290129340398" },
    },
    {
      correlationId: `d-${String(n)}`,
      businessNumber: "106540352242922",
      occurredAt: new Date(atMs),
      now: new Date(atMs + 5),
      eventId: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    },
  ),
  country: "US",
});

/** Decides then evolves each command, as the runtime does: evolve sees decide's own state. */
function viaRuntime(commands: readonly Observed[]): MessageState {
  let state = messageDecider.initialState(WAMID);
  for (const command of commands) {
    for (const event of messageDecider.decide(command, state, undefined))
      state = messageDecider.evolve(state, event);
  }
  return state;
}

/** The same, each event copied first (a replay's events): nothing remembered, all applied. */
function viaCopies(commands: readonly Observed[]): MessageState {
  let state = messageDecider.initialState(WAMID);
  for (const command of commands) {
    for (const event of messageDecider.decide(command, state, undefined))
      state = messageDecider.evolve(state, structuredClone(event));
  }
  return state;
}

describe("Applied events remember the state they lead to", () => {
  it("evolving a decided event gives what applying its command gives, in any order and with repeats", () => {
    const arrival = fc.array(
      fc.record({
        status: fc.constantFrom(...STATUSES),
        at: fc.integer({ min: 0, max: 10_000 }),
        n: fc.integer({ min: 1, max: 8 }),
      }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(arrival, (items) => {
        const commands = items.map(({ status, at, n }) => observed(status, T0 + at, n));
        expect(viaRuntime(commands)).toEqual(viaCopies(commands));
      }),
    );
  });

  it("an event evolved on another state than the one it was decided on is applied to that state", () => {
    const command = observed("delivered", T0 + 1_000, 2);
    const empty = messageDecider.initialState(WAMID);
    const sent = applyToMessage(empty, observed("sent", T0, 1));
    const decided = messageDecider.decide(command, empty, undefined);
    const [event] = decided;
    expect(event?.type).toBe("Applied");
    if (event === undefined) return;
    // Remembered for `empty`; on `sent` the command is applied to `sent` itself.
    expect(messageDecider.evolve(sent, event)).toEqual(applyToMessage(sent, command));
    expect(messageDecider.evolve(sent, event).timeline.map((e) => e.status)).toEqual([
      "sent",
      "delivered",
    ]);
  });

  it("stateAfter takes the remembered state only for the very state object decided on", () => {
    const from = { n: 1 };
    const to = { n: 2 };
    const event = appliedEvent("c", from, to);
    let applied = 0;
    const apply = () => {
      applied++;
      return { n: 99 };
    };
    expect(stateAfter(from, event, apply)).toBe(to);
    expect(applied).toBe(0);
    expect(stateAfter({ n: 1 }, event, apply)).toEqual({ n: 99 });
    expect(stateAfter(from, { type: "Applied", command: "c" }, apply)).toEqual({ n: 99 });
    expect(applied).toBe(2);
  });
});
