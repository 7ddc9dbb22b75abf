import { isOutage, ParleyError } from "@parley/errors";
import { describe, expect, it, vi } from "vitest";
import type { Keyed } from "./decider.js";
import { createCommandHandler, type CommandHandlerOptions } from "./handler.js";
import { createMemoryStateStore, type MemoryStateStore } from "./memory-store.js";
import {
  ofKey,
  outage,
  probe,
  refusingPublisher,
  tally,
  type Added,
  type TallyCommand,
  type TallyContext,
  type TallyEvent,
  type TallyState,
} from "./tally.unit-helpers.js";

const NOW = new Date("2026-03-01T10:00:00.000Z");
type Options = CommandHandlerOptions<TallyState, TallyCommand, TallyEvent, TallyContext, Added>;

/** `markDelayMs` 20 unless given; null: marks awaited (the runtime's default). */
function setup(
  {
    markDelayMs = 20,
    ...overrides
  }: Omit<Partial<Options>, "markDelayMs"> & { markDelayMs?: number | null } = {},
  memory: MemoryStateStore<TallyState, Added> = createMemoryStateStore(),
) {
  const probed = probe(memory);
  const publisher = refusingPublisher();
  const handler = createCommandHandler({
    decider: tally,
    store: probed.store,
    publish: publisher.publish,
    context: (commands) => commands.map(() => ({ now: NOW })),
    clock: () => NOW,
    ...(markDelayMs === null ? {} : { markDelayMs }),
    ...overrides,
  });
  return { handler, memory, ...probed, ...publisher };
}

const cmd = (id: string, add = 1): TallyCommand => ({ id, add });
const to = (key: string, ...commands: TallyCommand[]): Keyed<TallyCommand>[] =>
  commands.map((command) => ({ key, command }));
const marksOf = (calls: readonly string[]) => calls.filter((c) => c.startsWith("mark:"));

describe("command handler: deferred marks (markDelayMs)", () => {
  it("resolves once published, before the mark; the marks of several batches go in one write", async () => {
    // Only the mark timer is faked: the batches still gather on the real event loop.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { handler, calls, memory, published } = setup({ markDelayMs: 30 });
      for (let i = 0; i < 4; i++) await handler.handle(to(`k${i}`, cmd("1")));
      expect(published).toHaveLength(4);
      // Every caller has its answer; no mark is written yet, and the outboxes are still in view.
      expect(marksOf(calls)).toEqual([]);
      expect(memory.peek("k0")).toMatchObject({ version: 1, outbox: [{ id: "k0:1" }] });
      await vi.advanceTimersByTimeAsync(30);
      expect(marksOf(calls)).toEqual(["mark:4"]);
      for (let i = 0; i < 4; i++) {
        expect(memory.peek(`k${i}`)).toMatchObject({ version: 1, publishedVersion: 1 });
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it("flush writes the held marks at once; without marks it resolves at once", async () => {
    const { handler, calls, memory } = setup({ markDelayMs: 60_000 });
    await handler.flush();
    await handler.handle([...to("a", cmd("1")), ...to("b", cmd("1"))]);
    expect(marksOf(calls)).toEqual([]);
    await handler.flush();
    expect(marksOf(calls)).toEqual(["mark:2"]);
    expect(memory.peek("a")).toMatchObject({ publishedVersion: 1 });
    const awaited = setup({ markDelayMs: null });
    await awaited.handler.handle(to("a", cmd("1")));
    expect(marksOf(awaited.calls)).toEqual(["mark:1"]);
    await awaited.handler.flush();
    expect(marksOf(awaited.calls)).toEqual(["mark:1"]);
  });

  it("a key loaded again before its mark is written does not publish its outbox again", async () => {
    // cacheSize 0: every call loads the key from the store, where the mark is not written yet.
    const { handler, published, calls } = setup({ markDelayMs: 60_000, cacheSize: 0 });
    await handler.handle(to("k", cmd("1")));
    await handler.handle(to("k", cmd("2")));
    await handler.handle(to("k", cmd("2")));
    expect(ofKey(published, "k")).toEqual(["1=1", "2=2"]);
    expect(marksOf(calls)).toEqual([]);
    await handler.flush();
    expect(marksOf(calls)).toEqual(["mark:1"]);
  });

  it("a process that dies before writing its marks: the next owner publishes those outboxes again, same ids, then goes on", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    const dying = setup({ markDelayMs: 60_000 }, memory);
    await dying.handler.handle([...to("a", cmd("1")), ...to("b", cmd("1"))]);
    // Revoked or killed here: its marks are never written. The next owner gets new input for a
    // and the uncommitted input of b again.
    const next = setup({ markDelayMs: null }, memory);
    await next.handler.handle([...to("a", cmd("2")), ...to("b", cmd("1"))]);
    expect(ofKey(next.published, "a")).toEqual(["1=1", "2=2"]);
    expect(ofKey(next.published, "b")).toEqual(["1=1"]);
    expect(next.published.filter((e) => e.key === "b").map((e) => e.id)).toEqual(
      dying.published.filter((e) => e.key === "b").map((e) => e.id),
    );
    expect(memory.peek("a")).toMatchObject({ version: 2, publishedVersion: 2 });
    expect(memory.peek("b")).toMatchObject({ version: 2, publishedVersion: 2 });
  });

  it("a graceful stop (flush) leaves nothing to publish again for the next owner", async () => {
    const memory = createMemoryStateStore<TallyState, Added>();
    const first = setup({ markDelayMs: 60_000 }, memory);
    await first.handler.handle([...to("a", cmd("1")), ...to("b", cmd("1"))]);
    await first.handler.flush();
    const next = setup({ markDelayMs: null }, memory);
    await next.handler.handle([...to("a", cmd("2")), ...to("b", cmd("1"))]);
    expect(ofKey(next.published, "a")).toEqual(["2=2"]);
    expect(ofKey(next.published, "b")).toEqual([]);
  });

  it("a mark write that fails is held (the callers are not failed) and goes with the next one", async () => {
    const { handler, calls, before, memory, published } = setup({ markDelayMs: 60_000 });
    await handler.handle(to("a", cmd("1")));
    before.markPublished = () => {
      before.markPublished = undefined;
      throw outage("database");
    };
    await expect(handler.flush()).rejects.toSatisfy(isOutage);
    expect(memory.peek("a")).toMatchObject({ version: 1, outbox: [{ id: "a:1" }] });
    await handler.handle(to("b", cmd("1")));
    await handler.handle(to("a", cmd("2")));
    await handler.flush();
    expect(marksOf(calls)).toEqual(["mark:1", "mark:2"]);
    expect(memory.peek("a")).toMatchObject({ version: 2, publishedVersion: 2 });
    expect(memory.peek("b")).toMatchObject({ version: 1, publishedVersion: 1 });
    expect(ofKey(published, "a")).toEqual(["1=1", "2=2"]);
  });

  it("a mark refused for good for one key does not hold back the others", async () => {
    const { handler, before, memory } = setup({ markDelayMs: 60_000 });
    await handler.handle([...to("a", cmd("1")), ...to("b", cmd("1"))]);
    before.markPublished = (keys) => {
      if (keys.includes("a")) throw new ParleyError("refused", { retry: "never" });
    };
    await handler.flush();
    expect(memory.peek("a")).toMatchObject({ version: 1, outbox: [{ id: "a:1" }] });
    expect(memory.peek("b")).toMatchObject({ version: 1, publishedVersion: 1 });
  });

  it("refuses a markDelayMs that is not a whole number >= 0", () => {
    expect(() => setup({ markDelayMs: -1 })).toThrow(/markDelayMs/);
    expect(() => setup({ markDelayMs: 1.5 })).toThrow(/markDelayMs/);
  });
});
