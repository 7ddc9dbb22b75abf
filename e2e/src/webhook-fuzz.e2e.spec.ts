// Webhook fuzzing at scale (issue 26): for a bounded time (WEBHOOK_FUZZ_S, 10 s), a fast-check
// generator of valid and hostile webhooks POSTed to a real ingress (its own process) with a real
// router behind it, on the suite's Kafka, registry and MongoDB. Valid: signed Meta text messages
// with any unicode text, sometimes POSTed twice (Meta's duplicates), sometimes with a content type
// Meta never sends (the signature is what counts). Hostile: unsigned, signed with another secret,
// truncated after signing, over the body limit, gzip-encoded, signed bodies that are not JSON, and
// signed JSON of the wrong shape. Afterwards: no crash (both processes alive and ready), every
// POST answered with the status its kind calls for, every valid message typed on inbound-messages
// exactly once, every signed hostile body dead-lettered by the router with its reason, nothing
// typed from any hostile one, and the router's raw-webhooks group at the topic's end.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headerNames } from "@parley/contracts";
import { createKafka } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import { lagOf } from "./chaos/lag.js";
import { startPathStack, type PathStack } from "./path-stack.js";
import type { ServiceProcess } from "./processes.js";

const FUZZ_MS = Number(process.env["WEBHOOK_FUZZ_S"] ?? "10") * 1_000;
const SECRET = "fuzz-app-secret-5be1d2";
const OPS_TOKEN = "fuzz-ops-token-0c7a9e";
const WABA = "102290129340777";
const PN = "106540352249001";
const LIMIT = 64 * 1024;

type Kind =
  | "valid"
  | "duplicate"
  | "other-content-type"
  | "unsigned"
  | "wrong-secret"
  | "truncated"
  | "oversize"
  | "gzip"
  | "not-json"
  | "wrong-shape";

/** What a kind must lead to: the HTTP status, and after it a typed message or a dead letter. */
const EXPECT: Record<Kind, { status: number; typed: boolean; deadLetter?: RegExp }> = {
  valid: { status: 200, typed: true },
  duplicate: { status: 200, typed: true },
  "other-content-type": { status: 200, typed: true },
  unsigned: { status: 401, typed: false },
  "wrong-secret": { status: 401, typed: false },
  truncated: { status: 401, typed: false },
  oversize: { status: 413, typed: false },
  gzip: { status: 415, typed: false },
  "not-json": { status: 200, typed: false, deadLetter: /body is not JSON/ },
  "wrong-shape": { status: 200, typed: false, deadLetter: /no entry list|not JSON/ },
};

interface Case {
  readonly kind: Kind;
  readonly text: string;
  readonly contact: number;
  readonly cut: number;
  readonly shape: unknown;
  readonly contentType: string;
}

const cases: fc.Arbitrary<Case> = fc.record({
  kind: fc.oneof(
    { weight: 5, arbitrary: fc.constant<Kind>("valid") },
    ...(
      [
        "duplicate",
        "other-content-type",
        "unsigned",
        "wrong-secret",
        "truncated",
        "oversize",
        "gzip",
        "not-json",
        "wrong-shape",
      ] as const
    ).map((k) => ({ weight: 1, arbitrary: fc.constant<Kind>(k) })),
  ),
  text: fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }),
  contact: fc.integer({ min: 0, max: 49 }),
  cut: fc.integer({ min: 1, max: 1_000 }),
  // Any JSON but a webhook: no `entry` list at its top.
  shape: fc
    .jsonValue({ maxDepth: 3 })
    .filter(
      (v) =>
        typeof v !== "object" ||
        v === null ||
        Array.isArray(v) ||
        !Array.isArray((v as { entry?: unknown }).entry),
    ),
  contentType: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", ""),
});

const sign = (body: Buffer, secret = SECRET) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

function textWebhook(marker: string, contact: string, body: string) {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: WABA,
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550100777", phone_number_id: PN },
              contacts: [{ profile: { name: `user ${contact}` }, wa_id: contact }],
              messages: [
                {
                  from: contact,
                  id: `wamid.${marker}`,
                  timestamp: String(Math.floor(Date.now() / 1_000)),
                  type: "text",
                  text: { body },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

interface Posted {
  readonly kind: Kind;
  readonly marker: string;
  readonly statuses: number[];
}

let parley: PathStack | undefined;
const services: ServiceProcess[] = [];
const deadLetters: { deliveryId: string; reason: string }[] = [];
let stopDlq: (() => Promise<void>) | undefined;

beforeAll(async () => {
  parley = await startPathStack({
    name: "webhook-fuzz",
    opsToken: OPS_TOKEN,
    appSecret: SECRET,
    graphToken: "fuzz-graph-token-unused",
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: PN, wabaId: WABA, mps: 80, accessToken: "fuzz-graph-token" }],
    }),
    simulator: {
      seed: "webhook-fuzz",
      businesses: [{ wabaId: WABA, phoneNumbers: [{ id: PN, displayPhoneNumber: "15550100777" }] }],
    },
    read: ["raw-webhooks", "inbound-messages"],
  });
  const p = parley;
  const own = {
    WEBHOOK_BODY_LIMIT_BYTES: String(LIMIT),
    WEBHOOK_RATE_PER_SECOND: "100000",
    WEBHOOK_RATE_BURST: "100000",
  };
  services.push(...(await Promise.all([p.start("ingress", own), p.start("router")])));
  // The router's dead letters, with the delivery they belong to and the reason.
  const kafka = createKafka({ brokers: p.stack.kafkaBrokers, clientId: `${p.ns.id}-dlq` });
  const consumer = kafka.consumer({ groupId: `${p.ns.id}.fuzz-dlq-reader` });
  await consumer.connect();
  await consumer.subscribe({
    topic: p.catalog.deadLetterTopic("router-inbound").name,
    fromBeginning: true,
  });
  await consumer.run({
    eachMessage: ({ message }) => {
      deadLetters.push({
        deliveryId: message.headers?.[headerNames.correlationId]?.toString() ?? "",
        reason: message.headers?.[headerNames.dlq.errorMessage]?.toString() ?? "",
      });
      return Promise.resolve();
    },
  });
  stopDlq = () => consumer.disconnect();
}, 420_000);

afterAll(async () => {
  await stopDlq?.();
  await parley?.stop();
}, 120_000);

describe("webhook fuzzing: ingress and the router under valid and hostile webhooks", () => {
  it("0 crashes, each POST answered as its kind calls for, each valid message typed once, each signed hostile body dead-lettered with its reason", async () => {
    const p = parley as PathStack;
    const posted: Posted[] = [];
    const post = async (body: Buffer, headers: Record<string, string>) =>
      (
        await fetch(p.webhookUrl, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
        })
      ).status;
    let n = 0;
    const until = Date.now() + FUZZ_MS;
    // fast-check draws the cases; the clock, not a run count, bounds the test.
    await fc.assert(
      fc.asyncProperty(fc.array(cases, { minLength: 5, maxLength: 20 }), async (batch) => {
        if (Date.now() > until) return;
        await Promise.all(
          batch.map(async (c) => {
            const marker = `fz.${p.ns.id}.${String(n++)}z`; // "z": no marker is a prefix of another
            const contact = String(16_505_770_000 + c.contact);
            const valid = Buffer.from(
              JSON.stringify(textWebhook(marker, contact, `${c.text} ${marker}`)),
            );
            const statuses: number[] = [];
            switch (c.kind) {
              case "valid":
                statuses.push(await post(valid, { "x-hub-signature-256": sign(valid) }));
                break;
              case "duplicate":
                for (let i = 0; i < 2; i++)
                  statuses.push(await post(valid, { "x-hub-signature-256": sign(valid) }));
                break;
              case "other-content-type":
                statuses.push(
                  await post(valid, {
                    "x-hub-signature-256": sign(valid),
                    "content-type": c.contentType,
                  }),
                );
                break;
              case "unsigned":
                statuses.push(await post(valid, {}));
                break;
              case "wrong-secret":
                statuses.push(
                  await post(valid, { "x-hub-signature-256": sign(valid, "not-the-secret") }),
                );
                break;
              case "truncated":
                statuses.push(
                  await post(valid.subarray(0, Math.max(1, valid.length - c.cut)), {
                    "x-hub-signature-256": sign(valid),
                  }),
                );
                break;
              case "oversize": {
                const big = Buffer.from(
                  JSON.stringify(textWebhook(marker, contact, "x".repeat(LIMIT + c.cut))),
                );
                statuses.push(await post(big, { "x-hub-signature-256": sign(big) }));
                break;
              }
              case "gzip":
                statuses.push(
                  await post(valid, {
                    "x-hub-signature-256": sign(valid),
                    "content-encoding": "gzip",
                  }),
                );
                break;
              case "not-json": {
                const bad = valid.subarray(0, Math.max(marker.length + 60, valid.length - c.cut));
                const body = Buffer.concat([bad, Buffer.from(`"${marker}`)]);
                statuses.push(await post(body, { "x-hub-signature-256": sign(body) }));
                break;
              }
              case "wrong-shape": {
                const body = Buffer.from(JSON.stringify({ marker, shape: c.shape }));
                statuses.push(await post(body, { "x-hub-signature-256": sign(body) }));
                break;
              }
            }
            posted.push({ kind: c.kind, marker, statuses });
          }),
        );
      }),
      { numRuns: 100_000, interruptAfterTimeLimit: FUZZ_MS, markInterruptAsFailure: false },
    );
    const byKind = Object.fromEntries(
      Object.keys(EXPECT).map((k) => [k, posted.filter((x) => x.kind === k).length]),
    );
    console.info(
      `webhook fuzz: ${String(posted.length)} cases in ${String(FUZZ_MS / 1_000)} s: ${JSON.stringify(byKind)}`,
    );

    // Every POST answered as its kind calls for.
    for (const x of posted)
      for (const s of x.statuses) expect(s, `${x.kind} ${x.marker}`).toBe(EXPECT[x.kind].status);

    // Then the router: everything on raw-webhooks consumed (its group at the end), each signed
    // hostile body dead-lettered with its reason, each valid message typed.
    const deliveryOf = (marker: string) =>
      p.seen
        .filter((e) => e.type === "RawWebhookReceived")
        .filter((e) => Buffer.from(e.data.bodyBase64, "base64").includes(marker))
        .map((e) => e.data.deliveryId);
    const typed = (marker: string) =>
      p.seen.filter(
        (e) => e.type === "InboundMessageReceived" && e.data.wamid === `wamid.${marker}`,
      ).length;
    const admin = createKafka({
      brokers: p.stack.kafkaBrokers,
      clientId: `${p.ns.id}-lag`,
    }).admin();
    await admin.connect();
    try {
      await waitFor(
        async () =>
          posted.every(
            (x) =>
              // Every acknowledged POST seen stored: the spec's own consumer of the raw topic
              // may trail the router's (a duplicate's second delivery types nothing new).
              deliveryOf(x.marker).length >= x.statuses.filter((s) => s === 200).length &&
              (!EXPECT[x.kind].typed || typed(x.marker) > 0) &&
              (EXPECT[x.kind].deadLetter === undefined ||
                deliveryOf(x.marker).every((d) => deadLetters.some((l) => l.deliveryId === d))),
          ) &&
          (await lagOf(admin, [
            {
              group: `${p.catalog.prefix}parley.router-inbound`,
              topics: [p.catalog.topic("raw-webhooks").name],
            },
          ])) === 0,
        { timeoutMs: 180_000, intervalMs: 500, description: "the router done with every webhook" },
      ).catch(async (error: unknown) => {
        // Say what is missing: untyped valid ones, hostile ones without a dead letter, the lag.
        const untyped = posted.filter((x) => EXPECT[x.kind].typed && typed(x.marker) === 0);
        const unlettered = posted.filter(
          (x) =>
            EXPECT[x.kind].deadLetter !== undefined &&
            !deliveryOf(x.marker).every((d) => deadLetters.some((l) => l.deliveryId === d)),
        );
        const lag = await lagOf(admin, [
          {
            group: `${p.catalog.prefix}parley.router-inbound`,
            topics: [p.catalog.topic("raw-webhooks").name],
          },
        ]).catch(() => Number.NaN);
        throw new Error(
          `${String(error)}; untyped ${JSON.stringify(untyped.slice(0, 5).map((x) => [x.kind, x.marker]))} (${String(untyped.length)}), ` +
            `without a dead letter ${JSON.stringify(unlettered.slice(0, 5).map((x) => [x.kind, x.marker, deliveryOf(x.marker)]))} (${String(unlettered.length)}), ` +
            `raw lag ${String(lag)}, ${String(deadLetters.length)} dead letters: ${JSON.stringify(deadLetters.slice(0, 3))}`,
        );
      });
    } finally {
      await admin.disconnect();
    }
    for (const x of posted) {
      const want = EXPECT[x.kind];
      const deliveries = deliveryOf(x.marker);
      // Stored once per 200 (a duplicate POST twice), never for a refused one.
      expect(deliveries.length, `${x.kind} ${x.marker} stored`).toBe(
        x.statuses.filter((s) => s === 200).length,
      );
      expect(typed(x.marker), `${x.kind} ${x.marker} typed`).toBe(want.typed ? 1 : 0);
      const letters = deadLetters.filter((l) => deliveries.includes(l.deliveryId));
      if (want.deadLetter === undefined) expect(letters, `${x.kind} ${x.marker}`).toEqual([]);
      else
        for (const l of letters) expect(l.reason, `${x.kind} ${x.marker}`).toMatch(want.deadLetter);
      if (want.deadLetter !== undefined) expect(letters.length).toBe(deliveries.length);
    }
    // No crash: both processes still running and ready.
    for (const s of services) {
      expect(s.child.exitCode, s.name).toBeNull();
      const ready = await fetch(`${s.url}/readyz`, {
        headers: { authorization: `Bearer ${OPS_TOKEN}` },
      });
      expect(ready.status, s.name).toBe(200);
    }
    expect(posted.length).toBeGreaterThan(50);
  }, 420_000);
});
