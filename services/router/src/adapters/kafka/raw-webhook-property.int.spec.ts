import { headerNames, type AnyEvent } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startInboundHarness,
  textWebhook,
  WABA,
  type InboundHarness,
  type InboundRouter,
} from "./inbound-harness.int-helpers.js";

// A property over the whole inbound side, through the real raw-webhook consumer, broker, registry
// and MongoDB-wire server: random mixes of valid webhooks and hostile ones (deep nesting, huge
// arrays and payloads, oversize text, invalid UTF-8, invalid contact ids, unknown fields and
// types, bodies that are not JSON). Afterwards every valid message is on inbound-messages exactly once, every
// hostile webhook is parsed (with what was cut and why) or dead-lettered with a reason, no valid
// one is dead-lettered, and every raw partition's committed offset is at its end.
// PARLEY_PROPERTY_RUNS raises the number of runs (default 10) for a longer soak.

const RUNS = Number(process.env["PARLEY_PROPERTY_RUNS"] ?? "10");
const PNS = ["106540352242922", "106540352242933", "106540352242944"] as const;

type Kind =
  | "valid"
  | "deep"
  | "huge-array"
  | "huge-payload"
  | "oversize-text"
  | "invalid-utf8-text"
  | "invalid-contact"
  | "invalid-utf8-contact"
  | "unknown-field"
  | "unknown-type"
  | "not-json";

interface Shape {
  readonly kind: Kind;
  readonly pn: number;
  readonly contacts: readonly number[];
  readonly depth: number;
  readonly size: number;
  readonly extra: unknown;
}

/** What a delivered webhook must lead to. */
interface Expectation {
  readonly kind: Kind;
  readonly deliveryId: string;
  /** Messages that must be on inbound-messages exactly once. */
  readonly wamids: readonly string[];
  /** Dead-lettered with a reason matching this, or never dead-lettered (undefined). */
  readonly deadLetter: RegExp | undefined;
  /** For an unknown field: an UnknownWebhookFieldReceived correlated to it. */
  readonly unknownField: boolean;
}

const shapes: fc.Arbitrary<Shape> = fc.record({
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Kind>("valid") },
    { weight: 1, arbitrary: fc.constant<Kind>("deep") },
    { weight: 1, arbitrary: fc.constant<Kind>("huge-array") },
    { weight: 1, arbitrary: fc.constant<Kind>("huge-payload") },
    { weight: 1, arbitrary: fc.constant<Kind>("oversize-text") },
    { weight: 1, arbitrary: fc.constant<Kind>("invalid-utf8-text") },
    { weight: 1, arbitrary: fc.constant<Kind>("invalid-contact") },
    { weight: 1, arbitrary: fc.constant<Kind>("invalid-utf8-contact") },
    { weight: 1, arbitrary: fc.constant<Kind>("unknown-field") },
    { weight: 1, arbitrary: fc.constant<Kind>("unknown-type") },
    { weight: 1, arbitrary: fc.constant<Kind>("not-json") },
  ),
  pn: fc.integer({ min: 0, max: PNS.length - 1 }),
  contacts: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 3 }),
  depth: fc.constantFrom(120, 1_000, 10_000),
  size: fc.integer({ min: 1_100_000, max: 2_500_000 }),
  extra: fc.jsonValue({ maxDepth: 3 }),
});

let h: InboundHarness;
let router: InboundRouter;
let run = 0;
/** Webhooks delivered, by kind (printed: a run that never made a kind proves nothing about it). */
const delivered = new Map<Kind, number>();

beforeAll(async () => {
  h = await startInboundHarness("router-property");
  router = await h.startRouter();
});

afterAll(async () => {
  await router.stop();
  await h.stop();
});

const nestedJson = (levels: number) =>
  `${'{"n":'.repeat(levels)}{"leaf":true}${"}".repeat(levels)}`;

/** Replaces the JSON string `"MARK"` in `text` by raw bytes (invalid UTF-8 among them). */
function withBytes(text: string, mark: string, bytes: readonly number[]): Buffer {
  const at = text.indexOf(`"${mark}"`);
  return Buffer.concat([
    Buffer.from(text.slice(0, at + 1), "utf8"),
    Buffer.from(bytes),
    Buffer.from(text.slice(at + 1 + mark.length), "utf8"),
  ]);
}

async function deliver(shape: Shape, n: number): Promise<Expectation> {
  const pn = PNS[shape.pn] ?? PNS[0];
  const contact = (i: number) =>
    `1650777${String(run % 100).padStart(2, "0")}${String(i).padStart(2, "0")}`;
  const wamid = (i: number) => `wamid.p.${String(run)}.${String(n)}.${String(i)}`;
  const valid = shape.contacts.map((c, i) => ({
    from: contact(c),
    id: wamid(i),
    body: `m ${String(i)}`,
  }));
  const outcome = (
    deliveryId: string,
    wamids: readonly string[],
    deadLetter?: RegExp,
    unknownField = false,
  ): Expectation => ({ kind: shape.kind, deliveryId, wamids, deadLetter, unknownField });
  switch (shape.kind) {
    case "valid":
      return outcome(
        await h.deliver(pn, textWebhook(pn, valid)),
        valid.map((m) => m.id),
      );
    case "deep":
    case "unknown-type": {
      const body = textWebhook(pn, valid);
      const value = body.entry[0]?.changes[0]?.value as { messages: Record<string, unknown>[] };
      value.messages[0] = {
        ...value.messages[0],
        type: "hologram",
        text: undefined,
        hologram: shape.kind === "deep" ? "DEEP" : shape.extra,
      };
      const text = JSON.stringify(body).replace('"DEEP"', nestedJson(shape.depth));
      return outcome(
        await h.deliver(pn, text),
        valid.map((m) => m.id),
      );
    }
    case "huge-array": {
      const entries = Array.from({ length: 2_001 + (shape.size % 5_000) }, () => ({}));
      return outcome(await h.deliver(pn, { entry: entries }), [], /entries; at most 2000/);
    }
    case "huge-payload": {
      // Far more values than any real batch, in a payload no item count sees.
      const body = textWebhook(pn, valid);
      const value = body.entry[0]?.changes[0]?.value as { messages: Record<string, unknown>[] };
      value.messages[0] = {
        ...value.messages[0],
        type: "hologram",
        text: undefined,
        hologram: Array.from({ length: 60_001 + (shape.size % 100_000) }, (_, i) => i % 10),
      };
      return outcome(await h.deliver(pn, body), [], /JSON values; at most 60000/);
    }
    case "oversize-text": {
      const big = [
        { ...valid[0], body: "x".repeat(shape.size) } as (typeof valid)[number],
        ...valid.slice(1),
      ];
      return outcome(
        await h.deliver(pn, textWebhook(pn, big)),
        big.map((m) => m.id),
      );
    }
    case "invalid-utf8-text": {
      const marked = [{ ...valid[0], body: "UTF8" } as (typeof valid)[number], ...valid.slice(1)];
      const bytes = withBytes(
        JSON.stringify(textWebhook(pn, marked)),
        "UTF8",
        [0x61, 0xc3, 0x28, 0xff],
      );
      return outcome(
        await h.deliver(pn, bytes),
        marked.map((m) => m.id),
      );
    }
    case "invalid-contact":
    case "invalid-utf8-contact": {
      const bad = { from: "BADID", id: wamid(9), body: "x" };
      const text = JSON.stringify(textWebhook(pn, [...valid, bad]));
      const body =
        shape.kind === "invalid-contact"
          ? text.replaceAll('"BADID"', '"1650555abc"')
          : withBytes(text.replace('"wa_id":"BADID"', '"wa_id":"X"'), "BADID", [0x31, 0xfe, 0x32]);
      return outcome(
        await h.deliver(pn, body),
        valid.map((m) => m.id),
        new RegExp(
          `1 of ${String(valid.length + 1)} items rejected.*/messages/${String(valid.length)}: from: `,
        ),
      );
    }
    case "unknown-field": {
      const body = {
        entry: [
          {
            id: WABA,
            time: 1772359200,
            changes: [{ field: "calls", value: { run, n, extra: shape.extra } }],
          },
        ],
      };
      return outcome(await h.deliver(pn, body), [], undefined, true);
    }
    case "not-json":
      return outcome(await h.deliver(pn, `{"entry": [${String(n)}`), [], /body is not JSON/);
  }
}

const countOf = (wamid: string) =>
  h.seen.filter((s) => s.event.type === "InboundMessageReceived" && s.event.data.wamid === wamid)
    .length;
const correlated = (deliveryId: string): AnyEvent[] =>
  h.seen.map((s) => s.event).filter((e) => e.correlationId === deliveryId);

describe("router inbound: property over valid and hostile webhooks", () => {
  it(
    `every valid message once, every hostile webhook parsed or dead-lettered with a reason, no partition stuck (${String(RUNS)} runs)`,
    { timeout: 120_000 + RUNS * 60_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(shapes, { minLength: 4, maxLength: 12 }), async (batch) => {
          run++;
          const expectations: Expectation[] = [];
          for (const [n, shape] of batch.entries()) {
            expectations.push(await deliver(shape, n));
            delivered.set(shape.kind, (delivered.get(shape.kind) ?? 0) + 1);
          }
          await waitFor(
            async () =>
              expectations.every(
                (e) =>
                  e.wamids.every((w) => countOf(w) > 0) &&
                  (e.deadLetter === undefined || h.deadLetterOf(e.deliveryId) !== undefined) &&
                  (!e.unknownField ||
                    correlated(e.deliveryId).some((x) => x.type === "UnknownWebhookFieldReceived")),
              ) && (await h.rawProgress()).every((p) => p.committed === p.end),
            { timeoutMs: 60_000, intervalMs: 100, description: `run ${String(run)} settled` },
          );
          for (const e of expectations) {
            for (const w of e.wamids) expect(countOf(w), `${e.kind} ${w}`).toBe(1);
            const letter = h.deadLetterOf(e.deliveryId);
            if (e.deadLetter === undefined) {
              expect(letter, `${e.kind} ${e.deliveryId} dead-lettered`).toBeUndefined();
            } else {
              expect(letter?.reason, e.kind).toMatch(e.deadLetter);
            }
            if (e.kind === "deep" || e.kind === "oversize-text") {
              const cut = correlated(e.deliveryId).flatMap(
                (x) => (x.data as { truncated?: { reason: string }[] }).truncated ?? [],
              );
              expect(
                cut.map((t) => t.reason),
                e.kind,
              ).toContain(e.kind === "deep" ? "too_deep" : "too_large");
            }
          }
          // Dead letters carry their coordinates on the raw topic.
          for (const letter of h.deadLetters) {
            expect(letter.headers[headerNames.dlq.originalOffset]?.toString()).toMatch(/^\d+$/);
          }
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      console.info(
        `inbound property: ${String(run)} runs, webhooks by kind: ${JSON.stringify(Object.fromEntries(delivered))}; ${String(h.deadLetters.length)} dead letters`,
      );
    },
  );
});
