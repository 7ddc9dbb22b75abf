import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyEvent } from "@parley/contracts";
import { createKafka, createRegistry, createSerde, type KafkaClient } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import {
  addOrderUpdateTemplate,
  requestTemplateRounds,
  startPathStack,
  type PathStack,
} from "./path-stack.js";
import { stopService } from "./processes.js";

// Issue 30, item 2: a sender killed (SIGKILL) between publishing outcomes and committing them.
// Its outcomes and its input offsets go in one Kafka transaction per dispatch partition; the
// fault-injection setting SENDER_KILL_BEFORE_COMMIT makes the real sender process kill itself
// after a transaction's outcomes were sent and before it commits. The next sender finds those
// dispatches again (their offsets were not committed) and publishes their stored outcomes once
// more, same event ids. A read_committed consumer of send-outcomes must see each request's
// outcomes exactly once, records counted (not distinct ids); a read_uncommitted one may also see
// the aborted copies, and here must (the crash left them in the log). A sender that published
// outside the transaction would put the first copy in the committed view too: the test fails.
// Ingress, router and sender are processes; Kafka, the registry and MongoDB real; Meta the
// simulator.
const WABA = "102290129340371";
const NUMBER = "106540352242971";
const GRAPH_TOKEN = "e2e-once-graph-token";
const MPS = 80;
const CONTACTS = 100;
const PER_CONTACT = 3;
/** Dispatch records in transactions before the first sender kills itself (of 300). */
const KILL_AFTER = 120;

let parley: PathStack;
let uncommittedReader: ReturnType<KafkaClient["consumer"]> | undefined;
/** What a read_uncommitted consumer of send-outcomes saw, aborted transactions included. */
const uncommitted: AnyEvent[] = [];

const isOutcome = (e: AnyEvent) => e.type.startsWith("Send") && e.type !== "SendRequested";
const TERMINAL = new Set([
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendReconciled",
]);

beforeAll(async () => {
  parley = await startPathStack({
    name: "outcomes-once",
    opsToken: "e2e-once-ops-token",
    appSecret: "e2e-once-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, mps: MPS, accessToken: GRAPH_TOKEN }],
    }),
    simulator: {
      seed: "e2e-outcomes-once",
      businesses: [
        {
          wabaId: WABA,
          phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100971", throughputMps: MPS }],
        },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000, 4_000], retryTimeScale: 1 },
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
      // Answers held 100 ms: some calls are out when the sender dies (in doubt, reconciled).
      faults: { latency: { kind: "fixed", ms: 100 } },
      retainMessages: 10_000,
    },
    read: ["send-outcomes"],
  });
  addOrderUpdateTemplate(parley.sim, WABA);
  const kafka = createKafka({
    brokers: parley.stack.kafkaBrokers,
    clientId: `${parley.ns.id}-uncommitted`,
  });
  const serde = createSerde({ registry: createRegistry({ url: parley.stack.schemaRegistryUrl }) });
  const outcomes = parley.catalog.topic("send-outcomes");
  const reader = kafka.consumer({ groupId: parley.ns.group("uncommitted"), readUncommitted: true });
  uncommittedReader = reader;
  await reader.connect();
  await reader.subscribe({ topic: outcomes.name, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      uncommitted.push((await serde.decode(outcomes, message.value)) as AnyEvent);
    },
  });
  await parley.start("ingress");
  await parley.start("router");
}, 420_000);

afterAll(async () => {
  await uncommittedReader?.disconnect();
  await parley.stop();
}, 120_000);

/** How often each event id of `events` appears. */
const counts = (events: readonly AnyEvent[]): Map<string, number> => {
  const n = new Map<string, number>();
  for (const e of events) n.set(e.eventId, (n.get(e.eventId) ?? 0) + 1);
  return n;
};

describe("a sender killed between publishing outcomes and committing them", () => {
  it("shows each request's outcomes exactly once to read_committed consumers; read_uncommitted ones also see the aborted copies", async () => {
    const first = await parley.start("sender", { SENDER_KILL_BEFORE_COMMIT: String(KILL_AFTER) });
    const requests = await requestTemplateRounds(parley.client, {
      keyPrefix: "once",
      firstContact: 16_505_710_000,
      contacts: CONTACTS,
      rounds: PER_CONTACT,
      phoneNumberId: NUMBER,
    });
    const total = CONTACTS * PER_CONTACT;

    // The first sender kills itself after sending a transaction's outcomes, before its commit.
    await first.exited;
    expect(first.child.signalCode).toBe("SIGKILL");
    await stopService(first);
    const sentBeforeKill = parley.sim.messages({ phoneNumberId: NUMBER }).length;
    expect(sentBeforeKill).toBeGreaterThan(0);
    expect(sentBeforeKill).toBeLessThan(total);
    // The next sender ends an in-doubt request with no status webhook after 20 s (not 24 h): a
    // call fenced just before the kill may never have left (no webhook will come), and its
    // SendFailed goes through the outbox, a transaction of no record.
    await parley.start("sender", {
      SENDER_IN_DOUBT_TIMEOUT_MS: "20000",
      SENDER_IN_DOUBT_SWEEP_MS: "1000",
    });

    const outcomesOf = (requestId: string) =>
      parley.seen.filter((e) => e.correlationId === requestId && isOutcome(e));
    await waitFor(() => requests.every((id) => outcomesOf(id).some((e) => TERMINAL.has(e.type))), {
      timeoutMs: 180_000,
      intervalMs: 500,
      description: `a terminal outcome for each of ${String(total)} requests`,
    });
    // Copies would come with or right after the records they copy (a transaction or two).
    await new Promise((r) => setTimeout(r, 3_000));

    const problems: string[] = [];
    let inDoubt = 0;
    let neverLeft = 0;
    for (const id of requests) {
      const mine = outcomesOf(id);
      // Records, not distinct ids: every outcome record of the request exactly once.
      for (const [eventId, n] of counts(mine))
        if (n !== 1) problems.push(`${id}: outcome ${eventId} ${String(n)} times`);
      const terminal = mine.filter((e) => TERMINAL.has(e.type));
      if (terminal.length !== 1)
        problems.push(`${id}: terminal ${terminal.map((e) => e.type).join(", ")}`);
      const calls = parley.sim
        .messages({ phoneNumberId: NUMBER })
        .filter((m) => m.callbackData === id);
      const [final] = terminal;
      if (mine.some((e) => e.type === "SendInDoubt")) {
        // A call that left is reconciled from its status webhook; one that never left (the
        // kill came between its fence and its bytes) ends by the in-doubt timeout, unsent.
        inDoubt++;
        if (calls.length === 1 && final?.type !== "SendReconciled")
          problems.push(`${id}: called, in doubt, then ${final?.type ?? "nothing"}`);
        if (calls.length === 0 && final?.type !== "SendFailed")
          problems.push(`${id}: never called, in doubt, then ${final?.type ?? "nothing"}`);
        if (calls.length > 1) problems.push(`${id}: ${String(calls.length)} Graph calls`);
        if (calls.length === 0) neverLeft++;
      } else {
        if (final?.type !== "SendAccepted") problems.push(`${id}: ${final?.type ?? "no outcome"}`);
        if (calls.length !== 1) problems.push(`${id}: ${String(calls.length)} Graph calls`);
      }
    }
    expect(problems).toEqual([]);
    expect(parley.sim.stats().find((s) => s.phoneNumberId === NUMBER)?.accepted).toBe(
      total - neverLeft,
    );

    // The contrast: the uncommitted view also holds the first copies, which the killed sender
    // had written in the transaction it never committed.
    const seenUncommitted = counts(uncommitted.filter(isOutcome));
    const copied = [...seenUncommitted].filter(([, n]) => n > 1).map(([eventId]) => eventId);
    expect(copied.length).toBeGreaterThan(0);
    console.log(
      `outcomes-once: ${String(total)} requests, ${String(copied.length)} outcomes aborted with the killed transaction and committed once by the next sender, ${String(inDoubt)} in doubt (${String(neverLeft)} never left)`,
    );
    const committed = new Set(parley.seen.map((e) => e.eventId));
    for (const eventId of copied) expect(committed.has(eventId)).toBe(true);
  }, 600_000);
});
