import { finalOutcome } from "@parley/client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countryOfContact } from "@parley/pricing";
import {
  contactDocument,
  conversationDocument,
  messageDocument,
  requestDocument,
  templateDocument,
} from "./adapters/store/read-model-stores.js";
import { createMemoryReadModels } from "./projector/memory.js";
import { createProjector } from "./projector/projector.js";
import { createRollup } from "./projector/rollup.js";
import { exampleWorld, worldArb, type World } from "./projector/world.unit-helpers.js";
import {
  startProjectionHarness,
  type ProjectionHarness,
} from "./projection-harness.int-helpers.js";

// The projection on the real broker, registry and MongoDB-wire server: what it stores equals
// what the read models decide in memory for the same events; a rebuild into a new generation
// equals the live one document by document, and resumes after a crash; an as-of rebuild equals
// the live read models as they stood at that instant.

let h: ProjectionHarness;
let live: Awaited<ReturnType<ProjectionHarness["start"]>>;

beforeAll(async () => {
  h = await startProjectionHarness("projection");
});

afterAll(async () => {
  await h.stop();
});

/** The documents the in-memory projection gives for `world` (as MongoDB would hold them). */
async function expected(worlds: readonly World[]) {
  const models = createMemoryReadModels();
  const projector = createProjector({
    stores: models.stores,
    marks: models.marks,
    finalOf: finalOutcome,
    countryOf: countryOfContact,
  });
  for (const world of worlds) await projector.apply(world.events.map((event) => ({ event })));
  await createRollup({ marks: models.marks, analytics: models.analytics }).drain();
  const docs = <S>(
    store: { keys(): string[]; peek(k: string): { state: S } | undefined },
    toDocument: (s: S) => object,
  ) =>
    store
      .keys()
      .sort()
      .map(
        (k) =>
          JSON.parse(
            JSON.stringify({ _id: k, ...toDocument(store.peek(k)?.state as S) }),
          ) as unknown,
      );
  return {
    requests: docs(models.stores.requests, requestDocument),
    messages: docs(models.stores.messages, messageDocument),
    contacts: docs(models.stores.contacts, contactDocument),
    conversations: docs(models.stores.conversations, conversationDocument),
    templates: docs(models.stores.templates, templateDocument),
    buckets: [...models.analytics.buckets.keys()].sort(),
  };
}

/**
 * `docs` without their trace: every record now carries a traceparent (a root one when the
 * publisher records no span), which the in-memory run of the same events never sees. Live and
 * rebuilt generations are still compared with their traces.
 */
const untraced = (docs: readonly unknown[] | undefined): unknown[] =>
  (docs ?? []).map((doc) => {
    const { trace: _trace, ...rest } = doc as Record<string, unknown>;
    return rest;
  });

const sample = (seed: number): World => {
  const [world] = fc.sample(worldArb, { seed, numRuns: 1 });
  if (world === undefined) throw new Error("no world");
  return world;
};

describe("the read models on Kafka and MongoDB", () => {
  const worldA = exampleWorld();
  const worldB = sample(22);
  let asOf: Date;

  it("stores what the read models decide, for the same events (live generation 1)", async () => {
    const active = await h.generations.activeOrFirst(new Date());
    expect(active).toBe(1);
    live = await h.start(1);
    await h.publish(worldA.events);
    await h.caughtUp(1);
    await live.rollup.drain();
    const stored = await h.dump(1);
    const want = await expected([worldA]);
    expect(untraced(stored["requests"])).toEqual(untraced(want.requests));
    expect(untraced(stored["messages"])).toEqual(untraced(want.messages));
    expect(untraced(stored["contacts"])).toEqual(untraced(want.contacts));
    expect(untraced(stored["conversations"])).toEqual(untraced(want.conversations));
    expect(untraced(stored["templates"])).toEqual(untraced(want.templates));
    // Every record travelled with a traceparent, so every request names its trace.
    for (const doc of stored["requests"] ?? [])
      expect((doc as { trace?: { traceId?: string } }).trace?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect((stored["analytics"] ?? []).map((d) => (d as { _id: string })._id)).toEqual(
      want.buckets,
    );
    expect(h.deadLetters).toEqual([]);
  });

  it("an as-of rebuild gives the read models as they stood at that instant", async () => {
    const before = await h.dump(1);
    asOf = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await h.publish(worldB.events);
    await h.caughtUp(1);
    const result = await h.rebuild({ asOf });
    expect(result).toMatchObject({ switched: false, resumed: false });
    expect(await h.dump(result.generation)).toEqual(before);
    expect(await h.generations.active()).toBe(1);
    expect((await h.generations.get(result.generation))?.state).toBe("complete");
  });

  it("a rebuild resumes after a crash, equals the live generation document by document, and switches", async () => {
    // The first attempt dies after its first progress report (its consumer stopped, nothing switched).
    const crash = new Error("crash");
    await expect(
      h.rebuild(
        {},
        {
          onProgress: (p) => {
            if (p.phase === "replaying") throw crash;
          },
        },
      ),
    ).rejects.toBe(crash);
    const unfinished = (await h.generations.list()).find((g) => g.state === "building");
    expect(unfinished).toBeDefined();
    const result = await h.rebuild();
    expect(result).toMatchObject({
      generation: unfinished?.generation,
      resumed: true,
      switched: true,
    });
    // The live generation 1 keeps its own consumer; both have read everything by now.
    await h.caughtUp(1);
    await live.rollup.drain();
    const [current, rebuilt] = [await h.dump(1), await h.dump(result.generation)];
    for (const kind of Object.keys(current)) expect(rebuilt[kind], kind).toEqual(current[kind]);
    expect(await h.generations.active()).toBe(result.generation);
    const want = await expected([worldA, worldB]);
    expect(untraced(rebuilt["requests"])).toEqual(untraced(want.requests));
    expect(untraced(rebuilt["messages"])).toEqual(untraced(want.messages));
  });
});
