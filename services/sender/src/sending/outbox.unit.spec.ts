import { createEvent, type AnyEvent } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { OUTBOX } from "../domain/ports.js";
import { memoryAttempts } from "./fixtures.spec-helpers.js";
import { createOutbox } from "./outbox.js";

const NUMBER = "106540352240001";

function failed(requestId: string, at: number): AnyEvent {
  return createEvent(
    "SendFailed",
    {
      requestId,
      idempotencyKey: requestId,
      contactId: "16505550001",
      error: { errorClass: "unknown", retriable: true },
      phase: "sync",
      attempts: 1,
    },
    { correlationId: requestId, businessNumber: NUMBER, now: new Date(at) },
  );
}

/** An outbox over a memory store whose commits the test holds, fails or lets through. */
function setup({ owned = true } = {}) {
  const attempts = memoryAttempts();
  let now = 100_000;
  const committed: AnyEvent[] = [];
  let next: "commit" | "fail" | "hold" = "commit";
  const held: (() => void)[] = [];
  const outbox = createOutbox({
    attempts,
    commit: (_partition, events) => {
      if (next === "fail") return Promise.reject(new Error("partition not owned here"));
      if (next === "hold")
        return new Promise<void>((resolve) => {
          held.push(() => {
            committed.push(...events);
            resolve();
          });
        });
      committed.push(...events);
      return Promise.resolve();
    },
    partitionOf: () => 1,
    owns: () => owned,
    dispatchTopic: "dispatch",
    clock: () => now,
    graceMs: 15_000,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  /** A request settled with `event` pending in the outbox (as a store write would leave it). */
  const pending = async (requestId: string, event: AnyEvent) => {
    await attempts.claim({
      requestId,
      number: NUMBER,
      contactId: "16505550001",
      bizOpaqueCallbackData: requestId,
      at: new Date(now),
      owner: "o",
      finishedWith: event,
      origin: OUTBOX,
    });
  };
  return {
    attempts,
    outbox,
    committed,
    held,
    pending,
    set: (mode: typeof next) => {
      next = mode;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("outbox: outcomes of no record", () => {
  it("publishes through a transaction and marks them published once it committed", async () => {
    const { attempts, outbox, committed, pending } = setup();
    const event = failed("r1", 100_000);
    await pending("r1", event);
    await outbox.outlet(1).publish("r1", [event]);
    await settle();
    expect(committed).toEqual([event]);
    expect(attempts.records.get("r1")?.unpublished).toEqual([]);
  });

  it("leaves what a failed commit could not publish to the owner's sweep, once past the grace; never twice", async () => {
    const { attempts, outbox, committed, pending, set, advance } = setup();
    const event = failed("r2", 100_000);
    await pending("r2", event);
    set("fail");
    await outbox.outlet(1).publish("r2", [event]);
    await settle();
    expect(committed).toEqual([]);
    expect(attempts.records.get("r2")?.unpublished).toEqual([event.eventId]);
    set("commit");
    // Within the grace a live owner may still be between its commit and the mark: left alone.
    expect(await outbox.sweep()).toBe(0);
    expect(committed).toEqual([]);
    advance(16_000);
    expect(await outbox.sweep()).toBe(1);
    expect(committed).toEqual([event]);
    expect(await outbox.sweep()).toBe(0);
    expect(committed).toEqual([event]);
  });

  it("the sweep leaves a publish under way here alone, and requests of partitions it does not own", async () => {
    const busy = setup();
    const event = failed("r3", 100_000);
    await busy.pending("r3", event);
    busy.set("hold");
    await busy.outbox.outlet(1).publish("r3", [event]);
    busy.advance(16_000);
    expect(await busy.outbox.sweep()).toBe(0);
    for (const release of busy.held) release();
    await settle();
    expect(busy.committed).toEqual([event]);
    expect(busy.attempts.records.get("r3")?.unpublished).toEqual([]);

    const elsewhere = setup({ owned: false });
    await elsewhere.pending("r4", failed("r4", 100_000));
    elsewhere.advance(16_000);
    expect(await elsewhere.outbox.sweep()).toBe(0);
    expect(elsewhere.committed).toEqual([]);
  });
});
