import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createKafka, type KafkaClient } from "@parley/kafka";
import { createMongo, STATE_DOCUMENT_FIELDS, type MongoConnection } from "@parley/mongo";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPathStack, type PathStack } from "./path-stack.js";
import { freePort, repoRoot, serviceEnv } from "./processes.js";

// Invariant 11 and the send API's GET, end to end (issue 22): ingress, router, sender and
// projection as processes, Meta as the simulator posting statuses out of order, repeated and
// without `delivered`. Real traffic (sends over HTTP and Kafka, replies, an opt-out and a send
// after it, a message Meta fails after accepting it, a call whose answer is lost and is
// reconciled from its status webhook), then: the send API's GET answers each request with its
// final word and statuses; `parley-projection rebuild` replays the log into a new generation that
// equals the live one document by document and the service switches to it; `rebuild --as-of`
// equals a snapshot of the live read models taken at that instant.

const WABA = "102290129340377";
const NUMBER = "106540352242977";
const GRAPH_TOKEN = "e2e-projection-graph-token";
const SEND_KEY = "e2e-projection-send-key";
const SERVICE_KEY = "e2e-projection-ingress-key";
const READ_KEY = "e2e-projection-read-key";
const PII_KEY = "e2e-projection-pii-key";
const sha = (k: string) => createHash("sha256").update(k, "utf8").digest("hex");
const PREFIX = "projection_";
const TOPICS = [
  "send-requests",
  "dispatch",
  "send-outcomes",
  "statuses",
  "inbound-messages",
  "conversation-windows",
  "consent",
  "media",
  "business-events",
] as const;
const BOOKKEEPING = new Set<string>(STATE_DOCUMENT_FIELDS.filter((f) => f !== "_id"));

let parley: PathStack;
let kafka: KafkaClient;
let mongo: MongoConnection;
let sendApi = "";
let queryApi = "";

const contact = (i: number) => `1650555${String(7000 + i)}`;

async function postSend(
  to: string,
  key: string,
  body = "hello from the send API",
): Promise<string> {
  const res = await fetch(`${sendApi}/v1/messages`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${SEND_KEY}`,
      "content-type": "application/json",
      "idempotency-key": key,
    },
    body: JSON.stringify({
      recipient: { phone: `+${to}` },
      sender: { kind: "businessNumber", phoneNumberId: NUMBER },
      content: { type: "text", text: { body } },
      category: "utility",
    }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { requestId: string }).requestId;
}

async function clientSend(to: string, key: string): Promise<string> {
  const { requestId } = await parley.client.requestSend({
    idempotencyKey: key,
    recipient: { phone: `+${to}` },
    sender: { kind: "alias", alias: "orders" },
    content: { type: "text", text: { body: `kafka ${key}` } },
    category: "utility",
  });
  return requestId;
}

async function activeGeneration(): Promise<number> {
  const res = await fetch(`${queryApi}/v1/generations`, {
    headers: { authorization: `Bearer ${READ_KEY}` },
  });
  return ((await res.json()) as { active: number }).active;
}

/** The log has stopped moving and the active generation has read it all and rolled it up. */
async function settled(generation: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = TOPICS.map((id) => parley.catalog.topic(id).name);
    const group = `${parley.catalog.prefix}parley.projection.g${String(generation)}`;
    let previous = "";
    let stableSince = Date.now();
    await waitFor(
      async () => {
        const ends = (
          await Promise.all(
            topics.map(async (t) =>
              (await admin.fetchTopicOffsets(t)).map(
                (p) => `${t}:${String(p.partition)}:${p.high}`,
              ),
            ),
          )
        ).flat();
        const now = ends.join(",");
        if (now !== previous) {
          previous = now;
          stableSince = Date.now();
          return false;
        }
        const committed = new Map<string, string>();
        for (const { topic, partitions } of await admin.fetchOffsets({ groupId: group, topics })) {
          for (const p of partitions) committed.set(`${topic}:${String(p.partition)}`, p.offset);
        }
        const behind = ends.filter((e) => {
          const [t, p, high] = e.split(":");
          return (
            high !== "0" && Number(committed.get(`${t ?? ""}:${p ?? ""}`) ?? -1) < Number(high)
          );
        });
        const marks = await mongo.db
          .collection(`${PREFIX}g${String(generation)}_marks`)
          .countDocuments({});
        // Thrown, not returned, so that a timeout says what was still missing.
        if (behind.length > 0 || marks > 0)
          throw new Error(
            `behind: ${behind.map((e) => `${e} (committed ${committed.get(e.split(":").slice(0, 2).join(":")) ?? "none"})`).join(", ") || "none"}; marks: ${String(marks)}`,
          );
        return Date.now() - stableSince >= 3_000;
      },
      {
        timeoutMs: 180_000,
        intervalMs: 500,
        description: `generation ${String(generation)} settled`,
      },
    );
  } finally {
    await admin.disconnect();
  }
}

/** Every read-model document of a generation, without the store's bookkeeping. */
async function dump(generation: number): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const kind of [
    "requests",
    "messages",
    "contacts",
    "conversations",
    "templates",
    "analytics",
    "audit",
  ]) {
    const docs = await mongo.db
      .collection(`${PREFIX}g${String(generation)}_${kind}`)
      .find({})
      .toArray();
    out[kind] = docs
      .map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !BOOKKEEPING.has(k))))
      .sort((a, b) => (String(a["_id"]) < String(b["_id"]) ? -1 : 1));
  }
  return out;
}

function cli(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, "services/projection/dist/cli.js"), ...args],
      {
        env: {
          ...process.env,
          ...serviceEnv(parley.stack, {
            database: parley.ns.database(),
            topicPrefix: parley.catalog.prefix,
            opsToken: "unused-ops-token",
          }),
          PROJECTION_REBUILD_CATCH_UP_RECORDS: "0",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("exit", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  parley = await startPathStack({
    name: "projection",
    opsToken: "e2e-projection-ops-token",
    appSecret: "e2e-projection-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [
        { phoneNumberId: NUMBER, wabaId: WABA, aliases: ["orders"], accessToken: GRAPH_TOKEN },
      ],
    }),
    simulator: {
      seed: "e2e-projection",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100977" }] },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000], retryTimeScale: 1 },
      statuses: {
        sentDelayMs: [20, 80],
        deliveredDelayMs: [50, 200],
        readDelayMs: [100, 400],
        readProbability: 1,
        skipDeliveredProbability: 0.3,
        duplicateProbability: 0.4,
        outOfOrderProbability: 0.6,
      },
    },
    read: ["send-outcomes", "conversation-windows", "consent", "statuses"],
  });
  kafka = createKafka({ brokers: parley.stack.kafkaBrokers, clientId: `${parley.ns.id}-admin` });
  mongo = createMongo({
    url: parley.stack.mongoUrl,
    database: parley.ns.database(),
    appName: parley.ns.id,
  });
  const queryPort = await freePort();
  const sendPort = await freePort();
  queryApi = `http://127.0.0.1:${String(queryPort)}`;
  sendApi = `http://127.0.0.1:${String(sendPort)}`;
  await parley.start("projection", {
    PROJECTION_API_PORT: String(queryPort),
    PROJECTION_API_KEYS: JSON.stringify([
      { id: "ingress", keySha256: sha(SERVICE_KEY), scopes: ["read", "pii"] },
      { id: "analytics", keySha256: sha(READ_KEY), scopes: ["read"] },
      { id: "support", keySha256: sha(PII_KEY), scopes: ["read", "pii"] },
    ]),
    PROJECTION_ROLLUP_INTERVAL_MS: "200",
    PROJECTION_GENERATION_POLL_MS: "300",
    PARLEY_RATE_CARD_FILE: join(repoRoot, "packages/pricing/rate-card.example.json"),
  });
  await parley.start("ingress", {
    SEND_API_PORT: String(sendPort),
    SEND_API_KEYS: JSON.stringify([
      {
        id: "orders",
        keySha256: sha(SEND_KEY),
        scopes: ["messages:send", "messages:read"],
        requester: "orders-http",
      },
    ]),
    PROJECTION_API_URL: queryApi,
    PROJECTION_API_KEY: SERVICE_KEY,
  });
  await parley.start("router");
  // A call whose answer does not come within a second is in doubt (and never resent).
  await parley.start("sender", { SENDER_GRAPH_TIMEOUT_MS: "1000" });
}, 420_000);

afterAll(async () => {
  await mongo.close().catch(() => undefined);
  await parley.stop();
}, 120_000);

interface SendView {
  readonly outcome: { status: string; code?: number; phase?: string; reason?: string } | null;
  readonly decision: string | null;
  readonly statuses: { wamid: string; status: string; at: string }[];
}

async function viewOf(requestId: string, until: (v: SendView) => boolean): Promise<SendView> {
  let last: SendView | undefined;
  await waitFor(
    async () => {
      const res = await fetch(`${sendApi}/v1/messages/${requestId}`, {
        headers: { authorization: `Bearer ${SEND_KEY}` },
      });
      if (res.status !== 200) return false;
      last = (await res.json()) as SendView;
      return until(last);
    },
    { timeoutMs: 90_000, intervalMs: 300, description: `the GET of ${requestId}` },
  );
  if (last === undefined) throw new Error("unreachable");
  return last;
}

describe("the read side end to end", () => {
  const ids: Record<string, string> = {};
  let snapshotAt: Date;
  let before: Record<string, unknown[]>;

  it("traffic of every kind; the send API's GET answers each request with its final word and statuses", async () => {
    for (const i of [1, 2, 3, 4, 5]) await parley.openWindow(contact(i), NUMBER, 60_000);
    ids["delivered"] = await postSend(contact(1), "p-delivered");
    for (const k of [1, 2, 3])
      ids[`kafka-${String(k)}`] = await clientSend(contact(2), `p-kafka-${String(k)}`);
    // An opt-out, then a send to that contact: refused before Graph.
    parley.sim.userSends(contact(3), { type: "text", body: "STOP" }, { phoneNumberId: NUMBER });
    await waitFor(
      () => parley.seen.some((e) => e.type === "ConsentRevoked" && e.data.contactId === contact(3)),
      {
        timeoutMs: 60_000,
        description: "the opt-out",
      },
    );
    ids["optedOut"] = await postSend(contact(3), "p-opted-out");
    // Meta accepts, then fails the message by webhook.
    parley.sim.scriptFaults([{ kind: "fail-async", code: 131026, afterMs: 100 }], {
      endpoint: "messages",
      to: contact(4),
    });
    ids["failedLater"] = await postSend(contact(4), "p-failed-later");
    // Graph takes the message but answers after the sender's 1 s bound: in doubt, then reconciled.
    parley.sim.scriptFaults([{ kind: "delay", ms: 3_000 }], {
      endpoint: "messages",
      to: contact(5),
    });
    ids["inDoubt"] = await postSend(contact(5), "p-in-doubt");
    // Replies.
    parley.sim.userSends(contact(1), { type: "text", body: "thanks!" }, { phoneNumberId: NUMBER });
    parley.sim.userSends(contact(2), { type: "text", body: "ok" }, { phoneNumberId: NUMBER });

    const delivered = await viewOf(ids["delivered"] ?? "", (v) =>
      v.statuses.some((s) => s.status === "read"),
    );
    expect(delivered.outcome?.status).toBe("accepted");
    expect(delivered.decision).toMatch(/^(accepted|reconciled)$/);
    const times = delivered.statuses.map((s) => s.at);
    expect([...times].sort()).toEqual(times);
    const optedOut = await viewOf(ids["optedOut"] ?? "", (v) => v.outcome?.status === "rejected");
    expect(optedOut.outcome).toMatchObject({ status: "rejected", reason: "opted_out" });
    const failed = await viewOf(ids["failedLater"] ?? "", (v) => v.outcome?.status === "failed");
    expect(failed.outcome).toMatchObject({ status: "failed", phase: "async", code: 131026 });
    expect(failed.statuses.map((s) => s.status)).toContain("failed");
    const doubt = await viewOf(ids["inDoubt"] ?? "", (v) => v.decision === "reconciled");
    expect(doubt.outcome?.status).toBe("accepted");
    // SendInDoubt goes in the dispatch record's transaction and SendReconciled, when the status
    // comes after the in-doubt mark, in the status record's: either may commit first (seen
    // 2026-12-07: SendReconciled at offset 2, SendInDoubt at 4), so the reader may still be
    // without SendInDoubt when the read model already says reconciled.
    await waitFor(
      () => parley.outcomesOf(ids["inDoubt"] ?? "").some((e) => e.type === "SendInDoubt"),
      { timeoutMs: 30_000, description: "SendInDoubt of the request in doubt" },
    );
  }, 300_000);

  it("a snapshot of the live read models, then more traffic", async () => {
    await settled(1);
    before = await dump(1);
    expect(before["requests"]?.length).toBe(7);
    // The read models are not trivially equal: timelines, windows, an opt-out, analytics.
    const messages = before["messages"] as { direction?: string; timeline: unknown[] }[];
    expect(
      messages.filter((m) => m.direction === "outbound" && m.timeline.length >= 2).length,
    ).toBeGreaterThanOrEqual(4);
    expect(before["conversations"]?.length).toBe(5);
    expect(JSON.stringify(before["contacts"])).toContain('"state":"revoked"');
    expect(before["analytics"]?.length).toBeGreaterThan(0);
    // Meta's statuses reached the log out of order for some messages.
    const RANK: Record<string, number> = { sent: 1, delivered: 2, read: 3, failed: 5 };
    const arrived = new Map<string, number[]>();
    for (const e of parley.seen)
      if (e.type === "StatusUpdated")
        arrived.set(e.data.wamid, [...(arrived.get(e.data.wamid) ?? []), RANK[e.data.status] ?? 0]);
    const outOfOrder = [...arrived.values()].filter((r) =>
      r.some((x, i) => i > 0 && x < (r[i - 1] ?? 0)),
    );
    expect(outOfOrder.length).toBeGreaterThan(0);
    snapshotAt = new Date();
    await new Promise((r) => setTimeout(r, 50));
    ids["later"] = await postSend(contact(1), "p-later", "one more");
    parley.sim.userSends(
      contact(4),
      { type: "text", body: "why did it fail?" },
      { phoneNumberId: NUMBER },
    );
    await viewOf(ids["later"] ?? "", (v) => v.statuses.some((s) => s.status === "read"));
    await settled(1);
  }, 300_000);

  it("masks phone numbers for a key without pii, and shows them with it", async () => {
    const get = async (key: string) =>
      (await (
        await fetch(`${queryApi}/v1/contacts/${contact(1)}`, {
          headers: { authorization: `Bearer ${key}` },
        })
      ).json()) as {
        contactId: string;
        counts: { inbound: number };
      };
    expect((await get(READ_KEY)).contactId).not.toBe(contact(1));
    const full = await get(PII_KEY);
    expect(full.contactId).toBe(contact(1));
    expect(full.counts.inbound).toBe(2);
  });

  it("parley-projection rebuild replays the log into a new generation equal to the live one, document by document, and the service follows its switch", async () => {
    const live = await dump(1);
    const run = await cli(["rebuild"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/records\/s/);
    const result = JSON.parse(run.stdout) as {
      generation: number;
      switched: boolean;
      records: number;
    };
    expect(result).toMatchObject({ generation: 2, switched: true });
    await waitFor(async () => (await activeGeneration()) === 2, {
      timeoutMs: 30_000,
      description: "the service on generation 2",
    });
    await settled(2);
    const rebuilt = await dump(2);
    for (const kind of Object.keys(live)) {
      expect(rebuilt[kind]?.length, kind).toBe(live[kind]?.length);
      expect(rebuilt[kind], kind).toEqual(live[kind]);
    }
    // The service keeps generation 2 current now.
    const after = await postSend(contact(2), "p-after-switch");
    await waitFor(
      async () =>
        (
          await fetch(`${queryApi}/v1/requests/${after}`, {
            headers: { authorization: `Bearer ${READ_KEY}` },
          })
        ).status === 200,
      { timeoutMs: 60_000, description: "a request after the switch in generation 2" },
    );
  }, 300_000);

  it("rebuild --as-of gives the read models as they stood at that instant", async () => {
    const run = await cli(["rebuild", "--as-of", snapshotAt.toISOString()]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { generation: number; switched: boolean };
    expect(result.switched).toBe(false);
    const asOf = await dump(result.generation);
    for (const kind of Object.keys(before)) expect(asOf[kind], kind).toEqual(before[kind]);
    expect(await activeGeneration()).toBe(2);
    const status = await cli(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('"asOf"');
    const dropped = await cli(["drop", "1"]);
    expect(dropped.code, dropped.stderr).toBe(0);
    const names = (await mongo.db.listCollections({}, { nameOnly: true }).toArray()).map(
      (c) => c.name,
    );
    expect(names.filter((n) => n.startsWith(`${PREFIX}g1_`))).toEqual([]);
  }, 300_000);
});
