import { ParleyError, retryOf } from "@parley/errors";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Keyed } from "./decider.js";
import { UnpublishableEventError, UnstorableStateError } from "./errors.js";
import { createCommandHandler, type CommandHandler } from "./handler.js";
import { createMemoryStateStore } from "./memory-store.js";
import type { Publish, StateStore } from "./store.js";
import { tally, type Added, type TallyCommand, type TallyState } from "./tally.unit-helpers.js";

/**
 * Random interleavings of inputs for a few keys, with random faults injected into every store
 * and publish call (outages, retriable failures, lost acknowledgements, version conflicts,
 * partial publishes, process crashes), against a sequential run of the same inputs. Streams play
 * the consumer runner: each takes its records in order and retries one until it passes (outage,
 * bounded) or is dead-lettered (never); streams run concurrently, so batches mix their keys.
 */

const NOW = new Date("2026-03-01T10:00:00.000Z");
// k1 and k2 are shared, as a contact is when webhooks about it come from two business numbers:
// an outbox one stream left behind meets the other stream's next commands.
const STREAMS: readonly (readonly string[])[] = [
  ["k0", "k1", "k2"],
  ["k1", "k2", "k3"],
];
const ALL_KEYS = [...new Set(STREAMS.flat())];

type Fault =
  "none" | "outage" | "bounded" | "conflict" | "partial" | "lostAck" | "crash" | "crashAfter";

interface Record {
  readonly commands: readonly Keyed<TallyCommand>[];
}

const commandArb = fc.record({
  add: fc.integer({ min: 1, max: 5 }),
  kind: fc.constantFrom("plain", "plain", "plain", "plain", "quiet", "deep", "toxic"),
});

const recordArb = (keys: readonly string[]) =>
  fc.array(fc.record({ key: fc.constantFrom(...keys), command: commandArb }), {
    minLength: 1,
    maxLength: 3,
  });

const scenarioArb = fc.record({
  streams: fc.tuple(...STREAMS.map((keys) => fc.array(recordArb(keys), { maxLength: 8 }))),
  faults: fc.array(
    fc.constantFrom<Fault>(
      ...(Array.from({ length: 6 }, () => "none") as Fault[]),
      "outage",
      "bounded",
      "conflict",
      "partial",
      "lostAck",
      "crash",
      "crashAfter",
    ),
    { maxLength: 40 },
  ),
  ticks: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 16 }),
  cacheSize: fc.constantFrom(0, 1, 10),
  maxBatchKeys: fc.constantFrom(1, 2, 500),
  batchesInFlight: fc.constantFrom(1, 2, 3),
  // Marks awaited (undefined) or written behind the callers (ADR 0010, "Deferred marks").
  markDelayMs: fc.constantFrom(undefined, 0, 2),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** Gives every command a unique id and turns its kind into the tally command's flags. */
function recordsOf(scenario: Scenario): Record[][] {
  let n = 0;
  return scenario.streams.map((records) =>
    records.map((items) => ({
      commands: items.map(({ key, command: { add, kind } }) => ({
        key,
        command: {
          id: `c${++n}`,
          add,
          ...(kind === "quiet" ? { quiet: true } : {}),
          ...(kind === "deep" ? { deep: 120 } : {}),
          ...(kind === "toxic" ? { toxic: true } : {}),
        },
      })),
    })),
  );
}

/**
 * The commands of each key that a store accepts: a key's part with a deep command is refused when
 * its outbox is stored with the state (not with publishBeforeSave, where no outbox is stored).
 */
function acceptedParts(
  records: readonly Record[],
  outboxStored = true,
): Map<string, TallyCommand[]> {
  const accepted = new Map<string, TallyCommand[]>(ALL_KEYS.map((key) => [key, []]));
  for (const record of records) {
    for (const key of ALL_KEYS) {
      const part = record.commands.filter((c) => c.key === key).map((c) => c.command);
      if (outboxStored && part.some((c) => c.deep !== undefined)) continue;
      accepted.get(key)?.push(...part);
    }
  }
  return accepted;
}

/** What a sequential, fault-free run of `commands` publishes for `key`, in order. */
function sequentialRun(key: string, commands: readonly TallyCommand[]): string[] {
  const published: string[] = [];
  let state = tally.initialState(key);
  for (const command of commands) {
    for (const event of tally.decide(command, state, { now: NOW })) {
      state = tally.evolve(state, event);
      if (event.type === "Added" && !event.data.toxic) {
        published.push(`${event.id}=${event.data.total}`);
      }
    }
  }
  return published;
}

type Entry =
  | { readonly kind: "saved"; readonly key: string; readonly events: readonly string[] }
  | { readonly kind: "published"; readonly key: string; readonly event: string }
  | { readonly kind: "fault"; readonly fault: Fault; readonly keys: readonly string[] };

async function run(scenario: Scenario, publishBeforeSave = false, markOnNextSave = false) {
  const streams = recordsOf(scenario);
  const memory = createMemoryStateStore<TallyState, Added>();
  const faults = [...scenario.faults];
  const timeline: Entry[] = [];
  let markCalls = 0;
  const dropped = new Set<string>();
  const deadLetters: { readonly record: Record; readonly error: unknown }[] = [];
  let tick = 0;
  const pause = async () => {
    const turns = scenario.ticks[tick++ % scenario.ticks.length] ?? 0;
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  interface Instance {
    alive: boolean;
    handler?: CommandHandler<TallyCommand>;
  }
  let current: Instance;

  /** Every call through one process: dead processes do nothing; faults are taken in order. */
  const call = async <T>(
    instance: Instance,
    keys: readonly string[],
    work: () => Promise<T>,
    effects: { conflict?: () => Promise<void>; partial?: () => Promise<void> } = {},
  ): Promise<T> => {
    await pause();
    if (!instance.alive) throw new ParleyError("process is dead", { retry: "outage" });
    const fault = faults.shift() ?? "none";
    // Noted once the fault has had its effect (a partial append comes before the failure).
    const noted = () => timeline.push({ kind: "fault", fault, keys });
    const die = () => {
      instance.alive = false;
      timeline.push({ kind: "fault", fault, keys: ALL_KEYS });
      if (current === instance) current = spawn();
    };
    switch (fault) {
      case "outage":
        noted();
        throw new ParleyError("dependency unavailable", { retry: "outage" });
      case "bounded":
        noted();
        throw new ParleyError("try again", { retry: "bounded" });
      case "crash":
        die();
        throw new ParleyError("process died", { retry: "outage" });
      case "conflict":
        noted();
        await effects.conflict?.();
        return work();
      case "partial":
        if (effects.partial === undefined) return work();
        await effects.partial();
        noted();
        throw new ParleyError("only part was appended", { retry: "bounded" });
      case "lostAck":
        await work();
        noted();
        throw new ParleyError("no answer", { retry: "outage" });
      case "crashAfter":
        await work();
        die();
        throw new ParleyError("process died", { retry: "outage" });
      case "none":
        return work();
    }
  };

  const describe = (e: Added) => `${e.id}=${e.data.total}`;
  const append = (events: readonly Added[]) => {
    for (const e of events) timeline.push({ kind: "published", key: e.key, event: describe(e) });
  };

  function spawn(): Instance {
    const instance: Instance = { alive: true };
    const store: StateStore<TallyState, Added> = {
      loadMany: (keys) => call(instance, keys, () => memory.loadMany(keys)),
      saveMany: (writes) =>
        call(
          instance,
          writes.map((w) => w.key),
          async () => {
            const lost = await memory.saveMany(writes);
            for (const { key, outbox } of writes) {
              if (lost.has(key)) continue;
              timeline.push({ kind: "saved", key, events: outbox.map(describe) });
            }
            return lost;
          },
          {
            // Another process saves the first key in between, changing nothing but its version.
            conflict: async () => {
              const [first] = writes;
              if (first === undefined) return;
              const seen = (await memory.loadMany([first.key])).get(first.key);
              if (seen instanceof Error) return;
              await memory.saveMany([
                {
                  key: first.key,
                  state: seen?.state ?? tally.initialState(first.key),
                  outbox: seen?.outbox ?? [],
                  expectedVersion: seen?.version ?? 0,
                },
              ]);
            },
          },
        ),
      markPublished: (marks) => {
        markCalls++;
        return call(
          instance,
          marks.map((m) => m.key),
          () => memory.markPublished(marks),
        );
      },
    };
    const publish: Publish<Added> = (events) =>
      call(
        instance,
        [...new Set(events.map((e) => e.key))],
        () => {
          if (events.some((e) => e.data.toxic)) {
            return Promise.reject(new ParleyError("record too large", { retry: "never" }));
          }
          append(events);
          return Promise.resolve();
        },
        {
          partial: () => {
            append(events.slice(0, Math.floor(events.length / 2)).filter((e) => !e.data.toxic));
            return Promise.resolve();
          },
        },
      );
    instance.handler = createCommandHandler({
      decider: tally,
      store,
      publish,
      context: (commands, now) => commands.map(() => ({ now })),
      clock: () => NOW,
      cacheSize: scenario.cacheSize,
      maxBatchKeys: scenario.maxBatchKeys,
      batchesInFlight: scenario.batchesInFlight,
      ...(scenario.markDelayMs === undefined ? {} : { markDelayMs: scenario.markDelayMs }),
      publishBeforeSave,
      markOnNextSave,
      observer: {
        dropped: (_key, event) => dropped.add(event.id),
        // Published before the save, a decision whose save lost a version race is out: noted.
        ...(publishBeforeSave
          ? {
              conflict: (key: string) =>
                timeline.push({ kind: "fault", fault: "conflict", keys: [key] }),
            }
          : {}),
      },
    });
    return instance;
  }
  current = spawn();

  await Promise.all(
    streams.map(async (records) => {
      for (const record of records) {
        for (let attempt = 1; ; attempt++) {
          if (attempt > 200) throw new Error("no progress after 200 attempts");
          try {
            await current.handler?.handle(record.commands);
            break;
          } catch (error) {
            if (retryOf(error) === "never") {
              deadLetters.push({ record, error });
              break;
            }
          }
        }
      }
    }),
  );
  return { streams, timeline, dropped, deadLetters, memory, markCalls };
}

describe("command handler: random interleavings and faults against a sequential run", () => {
  it("publishes every key's outputs once each, in decided order, repeating only after a fault that hit the key", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { streams, timeline, dropped, deadLetters, memory } = await run(scenario);
        const commands = streams.flat().flatMap((r) => r.commands);
        const accepted = acceptedParts(streams.flat());

        for (const key of ALL_KEYS) {
          // The order the key's commands were decided in, as its final state recorded it: each
          // accepted command exactly once, and each stream's commands in the stream's order.
          const byId = new Map(accepted.get(key)?.map((c) => [c.id, c]));
          const seen = memory.peek(key)?.state.seen ?? [];
          expect([...seen].sort()).toEqual([...byId.keys()].sort());
          for (const records of streams) {
            const ids =
              acceptedParts(records)
                .get(key)
                ?.map((c) => c.id) ?? [];
            expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
          }
          const decidedOrder = seen.flatMap((id) => byId.get(id) ?? []);

          // Completeness and order: the first publication of each event, in decided order.
          const firsts: string[] = [];
          const savedAt = new Map<string, number>();
          timeline.forEach((entry, position) => {
            if (entry.kind === "saved" && entry.key === key) {
              for (const event of entry.events)
                if (!savedAt.has(event)) savedAt.set(event, position);
            }
            if (entry.kind !== "published" || entry.key !== key) return;
            if (!firsts.includes(entry.event)) firsts.push(entry.event);
            else {
              // A repeat is the documented replay of an outbox not known published: some fault
              // (a failure, a lost answer, another writer, a crash) touched this key after the
              // event was saved. Without one, nothing is published twice.
              const replayed = timeline
                .slice(savedAt.get(entry.event) ?? position, position)
                .some((e) => e.kind === "fault" && e.keys.includes(key));
              expect(replayed, `${entry.event} published again without a fault`).toBe(true);
            }
          });
          expect(firsts).toEqual(sequentialRun(key, decidedOrder));
        }

        // Hostile inputs: never published, always reported; valid inputs never dead-lettered.
        for (const { key, command } of commands) {
          if (command.toxic === true && command.deep === undefined) {
            const sameKeyDeep = streams
              .flat()
              .some(
                (r) =>
                  r.commands.some((c) => c.command === command) &&
                  r.commands.some((c) => c.key === key && c.command.deep !== undefined),
              );
            if (!sameKeyDeep) expect(dropped).toContain(`${key}:${command.id}`);
          }
        }
        for (const { record, error } of deadLetters) {
          const hostile = record.commands.some(
            ({ command }) => command.deep !== undefined || command.toxic === true,
          );
          expect(hostile, "a valid record was dead-lettered").toBe(true);
          expect(
            error instanceof UnstorableStateError || error instanceof UnpublishableEventError,
          ).toBe(true);
        }
        for (const record of streams.flat()) {
          if (record.commands.some(({ command }) => command.deep !== undefined)) {
            expect(deadLetters.map((d) => d.record)).toContain(record);
          }
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it("publishBeforeSave: no outbox saved and no mark written; every decided output published, exactly once in decided order unless a fault or a lost version race hit the key", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { streams, timeline, deadLetters, memory, markCalls } = await run(scenario, true);
        const accepted = acceptedParts(streams.flat(), false);
        expect(markCalls).toBe(0);
        for (const entry of timeline) if (entry.kind === "saved") expect(entry.events).toEqual([]);
        for (const key of ALL_KEYS) {
          const byId = new Map(accepted.get(key)?.map((c) => [c.id, c]));
          const seen = memory.peek(key)?.state.seen ?? [];
          expect([...seen].sort()).toEqual([...byId.keys()].sort());
          expect(memory.peek(key)?.outbox ?? []).toEqual([]);
          const decidedOrder = seen.flatMap((id) => byId.get(id) ?? []);
          // Every output of the decided order goes out; without a fault on the key, exactly
          // those, once each, in decided order. A fault (a lost answer, a crash between the
          // publish and the save) may publish a discarded decision's outputs or repeat some,
          // which the consumers, joins, absorb; the order is then not promised.
          const expected = sequentialRun(key, decidedOrder);
          // (A lost answer is noted after the call it hit: any fault on the key counts.)
          const faulted = timeline.some((e) => e.kind === "fault" && e.keys.includes(key));
          const published = timeline.flatMap((entry) =>
            entry.kind === "published" && entry.key === key ? [entry.event] : [],
          );
          for (const event of expected) expect(published).toContain(event);
          if (!faulted) expect(published).toEqual(expected);
        }
        // Only a record with an output the publish port refuses is dead-lettered.
        for (const { record, error } of deadLetters) {
          expect(record.commands.some(({ command }) => command.toxic === true)).toBe(true);
          expect(error).toBeInstanceOf(UnpublishableEventError);
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);
  it("markOnNextSave: no mark written; every decided output published, first in decided order, the last outbox of a key again only when it is loaded from the store", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { streams, timeline, deadLetters, memory, markCalls } = await run(
          scenario,
          false,
          true,
        );
        expect(markCalls).toBe(0);
        const accepted = acceptedParts(streams.flat());
        for (const key of ALL_KEYS) {
          const byId = new Map(accepted.get(key)?.map((c) => [c.id, c]));
          const seen = memory.peek(key)?.state.seen ?? [];
          expect([...seen].sort()).toEqual([...byId.keys()].sort());
          const decidedOrder = seen.flatMap((id) => byId.get(id) ?? []);
          const firsts: string[] = [];
          for (const entry of timeline)
            if (entry.kind === "published" && entry.key === key && !firsts.includes(entry.event))
              firsts.push(entry.event);
          expect(firsts).toEqual(sequentialRun(key, decidedOrder));
          // The stored outbox holds at most the outputs of the key's last save (each save
          // replaces it): it never grows with the key's history.
          const last = [...timeline].reverse().find((e) => e.kind === "saved" && e.key === key);
          for (const event of memory.peek(key)?.outbox ?? [])
            expect(last?.kind === "saved" ? last.events : []).toContain(
              `${event.id}=${event.data.total}`,
            );
        }
        for (const { record } of deadLetters) {
          const hostile = record.commands.some(
            ({ command }) => command.deep !== undefined || command.toxic === true,
          );
          expect(hostile, "a valid record was dead-lettered").toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
