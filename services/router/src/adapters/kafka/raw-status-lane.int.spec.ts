import { headerNames } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  messagesWebhook,
  startInboundHarness,
  textWebhook,
  type InboundHarness,
  type InboundRouter,
} from "./inbound-harness.int-helpers.js";

// The statuses lane (ADR 0004, "Two raw lanes") on the real broker, registry and MongoDB-wire
// server: receipts-only webhooks on raw-status-webhooks and messages on raw-webhooks, both lanes
// of one router over one handler, as main.ts wires them. Random mixes of valid receipts, hostile
// ones (a status without an id, an invalid recipient, a body that is not JSON) and messages:
// afterwards every valid status is on `statuses` exactly once, every message on
// inbound-messages exactly once, a status without an id is kept as UnknownWebhookFieldReceived
// (the parser keeps shapes it does not know), and every other hostile receipt webhook is in the
// statuses lane's own dead-letter topic with its reason; nothing valid is dead-lettered.

const PN = "106540352242922";
const STATUSES = ["sent", "delivered", "read"] as const;

type Kind = "receipts" | "no-id" | "bad-recipient" | "not-json" | "message";

interface Shape {
  readonly kind: Kind;
  readonly contact: number;
  readonly statuses: number;
}

interface Expectation {
  readonly kind: Kind;
  readonly deliveryId: string;
  /** `wamid/status` of each status that must be typed exactly once. */
  readonly typed: readonly string[];
  /** A message that must be typed exactly once. */
  readonly message?: string;
  readonly deadLetter?: RegExp;
  /** Kept as an UnknownWebhookFieldReceived correlated to the delivery. */
  readonly unknown?: boolean;
}

const shapes: fc.Arbitrary<Shape> = fc.record({
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Kind>("receipts") },
    { weight: 1, arbitrary: fc.constant<Kind>("no-id") },
    { weight: 1, arbitrary: fc.constant<Kind>("bad-recipient") },
    { weight: 1, arbitrary: fc.constant<Kind>("not-json") },
    { weight: 2, arbitrary: fc.constant<Kind>("message") },
  ),
  contact: fc.integer({ min: 0, max: 5 }),
  statuses: fc.integer({ min: 1, max: 3 }),
});

const receipts = (items: readonly Record<string, unknown>[]) =>
  messagesWebhook(PN, { statuses: items });

let h: InboundHarness;
let router: InboundRouter;

beforeAll(async () => {
  h = await startInboundHarness("router-status-lane");
  router = await h.startRouter({ statusLane: true });
});

afterAll(async () => {
  await router.stop();
  await h.stop();
});

describe("the statuses lane", () => {
  it("types every valid receipt once and dead-letters every hostile one with its reason, beside the main lane", async () => {
    const cases = fc.sample(fc.array(shapes, { minLength: 40, maxLength: 40 }), {
      numRuns: 1,
      seed: 2026_12_07,
    })[0];
    if (cases === undefined) throw new Error("no sample");
    const expectations: Expectation[] = [];
    const timestamp = String(Math.floor(Date.now() / 1_000));
    for (const [n, shape] of cases.entries()) {
      const contact = `165077701${String(shape.contact).padStart(2, "0")}`;
      const wamid = `wamid.lane.${String(n)}`;
      const items = STATUSES.slice(0, shape.statuses).map((status) => ({
        id: wamid,
        status,
        timestamp,
        recipient_id: contact,
      }));
      switch (shape.kind) {
        case "receipts":
          expectations.push({
            kind: shape.kind,
            deliveryId: await h.deliver(PN, receipts(items), "statuses"),
            typed: items.map((s) => `${wamid}/${s.status}`),
          });
          break;
        case "no-id": {
          const [first, ...rest] = items;
          const body = receipts([{ ...first, id: undefined }, ...rest]);
          expectations.push({
            kind: shape.kind,
            deliveryId: await h.deliver(PN, body, "statuses"),
            typed: rest.map((s) => `${wamid}/${s.status}`),
            unknown: true,
          });
          break;
        }
        case "bad-recipient": {
          const body = receipts(items.map((s) => ({ ...s, recipient_id: "1650abc" })));
          expectations.push({
            kind: shape.kind,
            deliveryId: await h.deliver(PN, body, "statuses"),
            typed: [],
            deadLetter: /items rejected/,
          });
          break;
        }
        case "not-json":
          expectations.push({
            kind: shape.kind,
            deliveryId: await h.deliver(PN, Buffer.from("{statuses: not json"), "statuses"),
            typed: [],
            deadLetter: /not JSON/,
          });
          break;
        case "message": {
          const id = `wamid.lane.in.${String(n)}`;
          expectations.push({
            kind: shape.kind,
            deliveryId: await h.deliver(PN, textWebhook(PN, [{ from: contact, id, body: "hi" }])),
            typed: [],
            message: id,
          });
          break;
        }
      }
    }
    const typedStatuses = () =>
      h.seen.flatMap((s) =>
        s.event.type === "StatusUpdated" ? [`${s.event.data.wamid}/${s.event.data.status}`] : [],
      );
    const typedMessages = () =>
      h.seen.flatMap((s) =>
        s.event.type === "InboundMessageReceived" ? [s.event.data.wamid] : [],
      );
    const unknownOf = (deliveryId: string) =>
      h.seen.some(
        (s) =>
          s.event.type === "UnknownWebhookFieldReceived" && s.event.correlationId === deliveryId,
      );
    const done = () => {
      const statuses = new Set(typedStatuses());
      const messages = new Set(typedMessages());
      return expectations.every(
        (x) =>
          x.typed.every((t) => statuses.has(t)) &&
          (x.unknown !== true || unknownOf(x.deliveryId)) &&
          (x.message === undefined || messages.has(x.message)) &&
          (x.deadLetter === undefined || h.deadLetterOf(x.deliveryId) !== undefined),
      );
    };
    await waitFor(done, {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: "every receipt typed or dead-lettered, every message typed",
    }).catch((error: unknown) => {
      const statuses = new Set(typedStatuses());
      const missing = expectations.filter(
        (x) =>
          !x.typed.every((t) => statuses.has(t)) ||
          (x.deadLetter !== undefined && h.deadLetterOf(x.deliveryId) === undefined),
      );
      throw new Error(
        `${String(error)}; missing: ${JSON.stringify(missing.slice(0, 5))}; ${String(h.deadLetters.length)} dead letters, ${String(h.seen.length)} events seen`,
      );
    });
    // Exactly once, whichever lane.
    const counts = new Map<string, number>();
    for (const t of [...typedStatuses(), ...typedMessages()])
      counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const x of expectations) {
      for (const t of x.typed) expect(counts.get(t), t).toBe(1);
      if (x.message !== undefined) expect(counts.get(x.message), x.message).toBe(1);
      const letter = h.deadLetterOf(x.deliveryId);
      if (x.deadLetter === undefined) expect(letter, `${x.kind} ${x.deliveryId}`).toBeUndefined();
      else expect(letter?.reason, `${x.kind} ${x.deliveryId}`).toMatch(x.deadLetter);
    }
    // The hostile receipts went to the statuses lane's own dead-letter topic.
    const hostile = new Set(
      expectations.filter((x) => x.deadLetter !== undefined).map((x) => x.deliveryId),
    );
    const letters = h.deadLetters.filter((r) =>
      hostile.has(r.headers[headerNames.correlationId]?.toString() ?? ""),
    );
    expect(letters.length).toBe(hostile.size);
    for (const r of letters)
      expect(r.topic).toBe(h.catalog.deadLetterTopic("router-statuses").name);
    const kinds = new Set(cases.map((c) => c.kind));
    expect(kinds.size).toBeGreaterThanOrEqual(4);
  });
});
