import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnyEvent } from "@parley/contracts";
import { createMongo } from "@parley/mongo";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPathStack, type PathStack } from "./path-stack.js";
import { freePort } from "./processes.js";

// Issue 24, outbound: a domain team uploads a file to the media API and sends it by its Parley
// id (`up_...`). Media, ingress, router and sender run as processes against the real servers;
// Meta is the simulator. The message reaches Graph with a Graph media id the media service
// uploaded for the sending number (never the up_ id); a second send of the same file uploads
// nothing (the same Graph id, one cache entry); a deleted upload fails without a call.
const GRAPH_TOKEN = "e2e-media-out-graph-token";
const WABA = "102290129340672";
const NUMBER = "106540352242972";
const USER = "16505550172";
const UPLOADER_KEY = "e2e-media-out-uploader-key-0123456789";
const SENDER_KEY = "e2e-media-out-sender-key-0123456789";
const KEYS = `k1:${randomBytes(32).toString("base64")}`;

let parley: PathStack;
let apiUrl = "";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(n)]);

async function upload(data: Buffer): Promise<string> {
  const res = await fetch(`${apiUrl}/v1/media`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${UPLOADER_KEY}`,
      "content-type": "image/jpeg",
    },
    body: data,
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  expect(id).toMatch(/^up_/);
  return id;
}

const outcomesOf = (requestId: string): AnyEvent[] =>
  parley.seen.filter(
    (e) =>
      (e.type === "SendAccepted" || e.type === "SendFailed" || e.type === "SendRejected") &&
      (e.data as { requestId?: string }).requestId === requestId,
  );

async function sendImage(key: string, mediaId: string): Promise<AnyEvent> {
  const { requestId } = await parley.client.requestSend({
    idempotencyKey: key,
    contactId: USER,
    recipient: { phone: USER },
    sender: { kind: "businessNumber", phoneNumberId: NUMBER },
    content: { type: "image", image: { id: mediaId, caption: key } },
    category: "utility",
  });
  await waitFor(() => outcomesOf(requestId).length > 0, {
    timeoutMs: 60_000,
    description: `the outcome of ${key}`,
  });
  return outcomesOf(requestId)[0] as AnyEvent;
}

const imagesReceived = (): { id?: string; caption?: string }[] =>
  parley.sim
    .received(USER)
    .flatMap((m) => (m.type === "image" ? [(m.message as { image: { id?: string } }).image] : []));

beforeAll(async () => {
  parley = await startPathStack({
    name: "media-outbound",
    opsToken: "e2e-media-out-ops-token",
    appSecret: "e2e-media-out-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, accessToken: GRAPH_TOKEN }],
    }),
    simulator: {
      seed: "e2e-media-outbound",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100972" }] },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000], retryTimeScale: 1 },
    },
    read: ["send-outcomes", "conversation-windows"],
  });
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${String(apiPort)}`;
  await parley.start("media", {
    MEDIA_KEYS: KEYS,
    MEDIA_STORE_DIR: mkdtempSync(join(tmpdir(), "parley-media-out-e2e-")),
    MEDIA_API_PORT: String(apiPort),
    MEDIA_API_KEYS: JSON.stringify([
      { id: "orders", keySha256: sha(UPLOADER_KEY), scopes: ["write", "read", "delete"] },
      { id: "sender", keySha256: sha(SENDER_KEY), scopes: ["send"] },
    ]),
  });
  await parley.start("ingress");
  await parley.start("router");
  await parley.start("sender", { MEDIA_API_URL: apiUrl, MEDIA_API_KEY: SENDER_KEY });
  // The contact writes first: the service window is open for free-form media.
  parley.sim.addUser({ waId: USER });
  parley.sim.userSends(
    USER,
    { type: "text", body: "send me the invoice" },
    { phoneNumberId: NUMBER },
  );
  await waitFor(
    () =>
      parley.seen.some(
        (e) =>
          (e.type === "ConversationWindowOpened" || e.type === "ConversationWindowExtended") &&
          e.businessNumber === NUMBER,
      ),
    { timeoutMs: 60_000, description: "the service window open" },
  );
}, 420_000);

afterAll(async () => {
  await parley.stop();
}, 120_000);

describe("outbound media end to end", () => {
  it("sends an upload as the number's Graph media id, uploaded to Graph once for two sends", async () => {
    const id = await upload(jpeg(200_000));
    const first = await sendImage("invoice-1", id);
    expect(first.type).toBe("SendAccepted");
    await waitFor(() => imagesReceived().length === 1, {
      timeoutMs: 30_000,
      description: "the image at the simulator",
    });
    const graphId = imagesReceived()[0]?.id ?? "";
    expect(graphId).not.toBe(id);
    expect(graphId).toMatch(/^\d+$/);

    // The same file again: the same Graph id, no second upload (a new one mints a new id).
    const second = await sendImage("invoice-2", id);
    expect(second.type).toBe("SendAccepted");
    await waitFor(() => imagesReceived().length === 2, {
      timeoutMs: 30_000,
      description: "the second image at the simulator",
    });
    expect(imagesReceived().map((i) => i.id)).toEqual([graphId, graphId]);
    const mongo = createMongo({
      url: parley.stack.mongoUrl,
      database: parley.ns.database(),
      appName: "e2e-media-outbound",
    });
    try {
      // One upload: the media service's cache holds one Graph id for this number and file.
      const cached = await mongo.db
        .collection<{ _id: string; graphMediaId: string }>("media_graph_ids")
        .find({})
        .toArray();
      expect(cached.map((c) => [c._id.split(":")[0], c.graphMediaId])).toEqual([[NUMBER, graphId]]);
    } finally {
      await mongo.close();
    }
  }, 180_000);

  it("a deleted upload fails for good with its reason, and nothing reaches Graph", async () => {
    const id = await upload(jpeg(50_000));
    const del = await fetch(`${apiUrl}/v1/media/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${UPLOADER_KEY}` },
    });
    expect(del.status).toBe(204);
    const before = parley.sim.received(USER).length;
    const outcome = await sendImage("invoice-deleted", id);
    expect(outcome.type).toBe("SendFailed");
    const error = (outcome.data as { error: { errorClass: string; details?: string } }).error;
    expect(error.errorClass).toBe("media");
    expect(error.details).toContain(id);
    expect(error.details).toContain("404");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(parley.sim.received(USER)).toHaveLength(before);
  }, 120_000);
});
