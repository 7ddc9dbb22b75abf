import { finalOutcome } from "@parley/client";
import type { StateStore } from "@parley/decider";
import { ParleyError, retryOf } from "@parley/errors";
import type { AnyEvent } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ratesOf } from "../domain/analytics.js";
import { currentStatus } from "../domain/statuses.js";
import { createMemoryReadModels, type MemoryReadModels } from "./memory.js";
import type { ReadModelStores } from "./ports.js";
import { createProjector } from "./projector.js";
import { createRollup } from "./rollup.js";
import { arrivalOrder, countryOf, worldArb } from "./world.unit-helpers.js";

/** Everything a generation holds: each read model's states by key, and the analytics buckets. */
function snapshot(models: MemoryReadModels) {
  const of = <S>(store: { keys(): string[]; peek(k: string): { state: S } | undefined }) =>
    Object.fromEntries(
      store
        .keys()
        .sort()
        .map((k) => [k, store.peek(k)?.state]),
    );
  const { stores } = models;
  return {
    requests: of(stores.requests),
    messages: of(stores.messages),
    contacts: of(stores.contacts),
    conversations: of(stores.conversations),
    templates: of(stores.templates),
    analytics: Object.fromEntries(
      [...models.analytics.buckets].sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
  };
}

/**
 * Applies `events` as the consumer would: chunks of records started in arrival order, a few in
 * flight at once (keys in parallel, a key's commands in call order), then the rollup.
 */
async function project(
  events: readonly AnyEvent[],
  chunk: number,
  inFlight: number,
  markOnNextSave = false,
) {
  const models = createMemoryReadModels();
  const projector = createProjector({
    stores: models.stores,
    marks: models.marks,
    finalOf: finalOutcome,
    countryOf,
    cacheSize: 3,
    maxBatchKeys: 4,
    markOnNextSave,
  });
  const running: Promise<void>[] = [];
  for (let i = 0; i < events.length; i += chunk) {
    running.push(projector.apply(events.slice(i, i + chunk).map((event) => ({ event }))));
    if (running.length >= inFlight) await running.shift();
  }
  await Promise.all(running);
  await createRollup({ marks: models.marks, analytics: models.analytics }).drain();
  return models;
}

describe("invariant 11 in memory: the read models are a function of the events, not of their order", () => {
  it("any arrival order, any batching, repeated records: the same documents and analytics", async () => {
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (world, ranks, repeats, chunk, inFlight, markOnNextSave) => {
          const inOrder = snapshot(await project(world.events, 1, 1));
          const repeated = [
            ...world.events,
            ...repeats.map((r) => world.events[r % world.events.length] as AnyEvent),
          ];
          const shuffled = arrivalOrder(repeated, ranks);
          // Outboxes marked by the next save (the service's default) or each by a mark.
          const other = snapshot(await project(shuffled, chunk, inFlight, markOnNextSave));
          expect(other).toEqual(inOrder);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("one apply holding every event (a consumer batch): a message's statuses in any order and duplicates inside the batch give the same documents as one event at a time", async () => {
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        async (world, ranks, repeats) => {
          const inOrder = snapshot(await project(world.events, 1, 1));
          const repeated = [
            ...world.events,
            ...repeats.map((r) => world.events[r % world.events.length] as AnyEvent),
          ];
          const shuffled = arrivalOrder(repeated, ranks);
          const oneBatch = snapshot(await project(shuffled, shuffled.length, 1));
          expect(oneBatch).toEqual(inOrder);
          // The same batch applied twice at once (a redelivered fetch) changes nothing more.
          const twice = snapshot(await project([...shuffled, ...shuffled], shuffled.length, 2));
          expect(twice).toEqual(inOrder);
        },
      ),
      { numRuns: 30 },
    );
  }, 60_000);

  it("counts what happened: statuses, final words and windows as the events say", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        const models = await project(world.events, 2, 2);
        const requests = world.events.filter((e) => e.type === "SendRequested");
        expect(models.stores.requests.keys()).toHaveLength(requests.length);
        for (const key of models.stores.messages.keys()) {
          const state = models.stores.messages.peek(key)?.state;
          if (state?.timeline.some((e) => e.status === "failed"))
            expect(currentStatus(state.timeline)).toBe("failed");
        }
        let total = 0;
        for (const totals of models.analytics.buckets.values()) {
          total += totals.requests.total;
          const rates = ratesOf(totals);
          if (rates.deliveryRate !== undefined) expect(rates.deliveryRate).toBeLessThanOrEqual(1);
        }
        expect(total).toBe(requests.length);
      }),
      { numRuns: 40 },
    );
  });
});

describe("published marks written behind (markDelayMs)", () => {
  /** Stored outboxes not marked published. */
  const pendingOutboxes = (models: MemoryReadModels) =>
    [models.stores.requests, models.stores.messages, models.stores.conversations]
      .flatMap((store) => store.keys().map((k) => store.peek(k)))
      .filter((r) => r !== undefined && r.outbox.length > 0 && r.publishedVersion < r.version)
      .length;

  it("a projector that dies before its marks are written leaves outboxes in view; the next one, given the same events again, ends in the same documents; flush clears them", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, fc.integer({ min: 1, max: 4 }), async (world, chunk) => {
        const expected = snapshot(await project(world.events, 1, 1));
        const models = createMemoryReadModels();
        const options = {
          stores: models.stores,
          marks: models.marks,
          finalOf: finalOutcome,
          countryOf,
          cacheSize: 3,
          maxBatchKeys: 4,
          markDelayMs: 60_000,
        };
        // The first process applies everything and dies (never flushed): its marks are lost.
        const first = createProjector(options);
        for (let i = 0; i < world.events.length; i += chunk)
          await first.apply(world.events.slice(i, i + chunk).map((event) => ({ event })));
        const links = world.events.some((e) => e.type === "SendAccepted");
        if (links) expect(pendingOutboxes(models)).toBeGreaterThan(0);
        // The next owner replays from the last committed offset (here: the start).
        const second = createProjector(options);
        for (let i = 0; i < world.events.length; i += chunk)
          await second.apply(world.events.slice(i, i + chunk).map((event) => ({ event })));
        await second.flush();
        expect(pendingOutboxes(models)).toBe(0);
        await createRollup({ marks: models.marks, analytics: models.analytics }).drain();
        expect(snapshot(models)).toEqual(expected);
      }),
      { numRuns: 15 },
    );
  });

  it("markOnNextSave: no mark is written; a projector that dies and the next one, given the same events again with a small cache (keys loaded again hand their last outbox on again), end in the same documents", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, fc.integer({ min: 1, max: 4 }), async (world, chunk) => {
        const expected = snapshot(await project(world.events, 1, 1));
        const models = createMemoryReadModels();
        let marked = 0;
        const counting = () => {
          marked++;
          return Promise.resolve();
        };
        const stores = {
          ...models.stores,
          requests: {
            ...models.stores.requests,
            markPublished: counting,
          },
          messages: {
            ...models.stores.messages,
            markPublished: counting,
          },
        };
        const options = {
          stores,
          marks: models.marks,
          finalOf: finalOutcome,
          countryOf,
          cacheSize: 1,
          maxBatchKeys: 4,
          markOnNextSave: true,
        };
        const first = createProjector(options);
        for (let i = 0; i < world.events.length; i += chunk)
          await first.apply(world.events.slice(i, i + chunk).map((event) => ({ event })));
        const second = createProjector(options);
        for (let i = 0; i < world.events.length; i += chunk)
          await second.apply(world.events.slice(i, i + chunk).map((event) => ({ event })));
        await second.flush();
        expect(marked).toBe(0);
        await createRollup({ marks: models.marks, analytics: models.analytics }).drain();
        expect(snapshot(models)).toEqual(expected);
      }),
      { numRuns: 15 },
    );
  });
});

describe("conversations hand their windows on before they save (no outbox, no mark)", () => {
  /** The stores of a process that dies at its `saves`-th save: every later call fails. */
  function dying(models: MemoryReadModels, saves: number): ReadModelStores {
    let left = saves;
    const dead = () => Promise.reject(new ParleyError("process died", { retry: "outage" }));
    const wrap = <S, O>(store: StateStore<S, O>): StateStore<S, O> => ({
      loadMany: (keys) => (left <= 0 ? dead() : store.loadMany(keys)),
      saveMany: (writes) => (--left < 0 ? dead() : store.saveMany(writes)),
      markPublished: (marks) => (left <= 0 ? dead() : store.markPublished(marks)),
    });
    const { requests, messages, contacts, conversations, templates } = models.stores;
    return {
      requests: wrap(requests),
      messages: wrap(messages),
      contacts: wrap(contacts),
      conversations: wrap(conversations),
      templates: wrap(templates),
    };
  }

  it("a projector that dies at any save stores no conversation outbox; the next one, given the same events again, ends in the same documents", async () => {
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.integer({ min: 1, max: 4 }),
        fc.nat({ max: 30 }),
        async (world, chunk, saves) => {
          const expected = snapshot(await project(world.events, 1, 1));
          const models = createMemoryReadModels();
          const options = {
            marks: models.marks,
            finalOf: finalOutcome,
            countryOf,
            cacheSize: 3,
            maxBatchKeys: 4,
          };
          const first = createProjector({ ...options, stores: dying(models, saves) });
          try {
            for (let i = 0; i < world.events.length; i += chunk)
              await first.apply(world.events.slice(i, i + chunk).map((event) => ({ event })));
          } catch (error) {
            expect(retryOf(error)).toBe("outage");
          }
          const conversations = models.stores.conversations;
          const outboxes = () =>
            conversations.keys().filter((k) => (conversations.peek(k)?.outbox.length ?? 0) > 0);
          expect(outboxes()).toEqual([]);
          const second = createProjector({ ...options, stores: models.stores });
          for (let i = 0; i < world.events.length; i += chunk)
            await second.apply(world.events.slice(i, i + chunk).map((event) => ({ event })));
          expect(outboxes()).toEqual([]);
          await createRollup({ marks: models.marks, analytics: models.analytics }).drain();
          expect(snapshot(models)).toEqual(expected);
        },
      ),
      { numRuns: 15 },
    );
  });
});
