import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnyEvent, EventOf } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPathStack, type PathStack } from "./path-stack.js";
import { freePort, stopService, type ServiceProcess } from "./processes.js";

// Issue 24: inbound media end to end. Ingress, router and media run as processes against the
// real servers; Meta is the simulator, which serves the files, expires URLs and ids, and alters
// a file on request. Every file must end as an encrypted object whose decrypted bytes (through
// the media API) equal the simulator's, or as MediaFailed with its reason.
const GRAPH_TOKEN = "e2e-media-graph-token";
const WABA = "102290129340671";
const NUMBER = "106540352242971";
const USER = "16505550171";
const API_KEY = "e2e-media-api-key-0123456789";
const KEYS = `k-old:${randomBytes(32).toString("base64")},k-new:${randomBytes(32).toString("base64")}`;

let parley: PathStack;
let media: ServiceProcess | undefined;
let apiUrl = "";
const storeDir = mkdtempSync(join(tmpdir(), "parley-media-e2e-"));

async function startMedia(): Promise<void> {
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${String(apiPort)}`;
  media = await parley.start("media", {
    MEDIA_KEYS: KEYS,
    MEDIA_STORE_DIR: storeDir,
    MEDIA_API_PORT: String(apiPort),
    MEDIA_API_KEYS: JSON.stringify([
      {
        id: "e2e",
        keySha256: createHash("sha256").update(API_KEY).digest("hex"),
        scopes: ["read", "write", "delete"],
      },
    ]),
    MEDIA_DOWNLOAD_BACKOFF_MS: "50",
  });
}

type Stored = EventOf<"MediaStored">;
type Failed = EventOf<"MediaFailed">;
const ofMedia = (id: string): AnyEvent[] =>
  parley.seen.filter(
    (e) => (e.type === "MediaStored" || e.type === "MediaFailed") && e.data.mediaId === id,
  );

async function outcomeOf(id: string): Promise<Stored | Failed> {
  await waitFor(() => ofMedia(id).length > 0, {
    timeoutMs: 120_000,
    description: `an outcome for media ${id}`,
  });
  return ofMedia(id)[0] as Stored | Failed;
}

function userSendsFile(
  type: "image" | "audio" | "document",
  mimeType: string,
  data: Buffer,
  filename?: string,
): string {
  const { message } = parley.sim.userSends(
    USER,
    { type, mimeType, data, ...(filename === undefined ? {} : { filename }) },
    { phoneNumberId: NUMBER },
  );
  return (message as unknown as Record<string, { id: string }>)[type]?.id ?? "";
}

async function download(id: string, range?: string): Promise<Response> {
  return fetch(`${apiUrl}/v1/media/${id}/content`, {
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(range === undefined ? {} : { range }),
    },
  });
}

const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(n)]);
const ogg = (n: number) => Buffer.concat([Buffer.from("OggS"), randomBytes(n)]);
const pdf = (n: number) => Buffer.concat([Buffer.from("%PDF-1.7\n"), randomBytes(n)]);

beforeAll(async () => {
  parley = await startPathStack({
    name: "media",
    opsToken: "e2e-media-ops-token",
    appSecret: "e2e-media-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, accessToken: GRAPH_TOKEN }],
    }),
    simulator: {
      seed: "e2e-media",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100971" }] },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000], retryTimeScale: 1 },
    },
    read: ["media", "inbound-messages"],
  });
  await parley.start("ingress");
  await parley.start("router");
  await startMedia();
  parley.sim.addUser({ waId: USER });
}, 420_000);

afterAll(async () => {
  await parley.stop();
}, 120_000);

describe("inbound media end to end", () => {
  it("stores an image, a voice note and a document encrypted; the API decrypts them byte for byte", async () => {
    const files = [
      { type: "image" as const, mime: "image/jpeg", data: jpeg(300_000) },
      { type: "audio" as const, mime: "audio/ogg", data: ogg(150_000) },
      {
        type: "document" as const,
        mime: "application/pdf",
        data: pdf(1_200_000),
        name: "invoice.pdf",
      },
    ];
    const ids = files.map((f) => userSendsFile(f.type, f.mime, f.data, f.name));
    for (const [i, id] of ids.entries()) {
      const file = files[i];
      if (file === undefined) throw new Error("no file");
      const outcome = await outcomeOf(id);
      expect(outcome.type).toBe("MediaStored");
      const stored = outcome as Stored;
      expect(stored.data).toMatchObject({
        contactId: USER,
        mediaId: id,
        mimeType: file.mime,
        sizeBytes: file.data.length,
        keyId: "k-new",
        kind: file.type,
        contentSha256: createHash("sha256").update(file.data).digest("hex"),
      });
      const res = await download(id);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(file.data);
      // At rest: the object on disk is sealed, not the plaintext.
      const onDisk = readFileSync(join(storeDir, stored.data.storageKey));
      expect(onDisk.subarray(0, 4).toString()).toBe("PMD1");
      expect(onDisk.includes(file.data.subarray(100, 164))).toBe(false);
      expect(onDisk.length).toBeGreaterThan(file.data.length);
    }
    // A range of the document, across a chunk boundary.
    const doc = files[2]?.data ?? Buffer.alloc(0);
    const part = await download(ids[2] ?? "", "bytes=65000-200000");
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 65000-200000/${String(doc.length)}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(doc.subarray(65_000, 200_001));
    // Every download is audited.
    const audit = (await (
      await fetch(`${apiUrl}/v1/media/${ids[2] ?? ""}/downloads`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      })
    ).json()) as { data: { principal: string; range?: string }[] };
    expect(audit.data.map((d) => d.principal)).toEqual(["e2e", "e2e"]);
    expect(audit.data[0]?.range).toBe("bytes=65000-200000");
  }, 300_000);

  it("asks Graph again when the URL expires mid-download, and stores the file once", async () => {
    parley.sim.scriptFaults([{ kind: "cut", afterBytes: 70_000, expireUrl: true }], {
      endpoint: "download",
    });
    const data = jpeg(400_000);
    const id = userSendsFile("image", "image/jpeg", data);
    const outcome = await outcomeOf(id);
    expect(outcome.type).toBe("MediaStored");
    expect(parley.sim.mediaStats(id)).toEqual({ lookups: 2, downloads: 2 });
    expect(Buffer.from(await (await download(id)).arrayBuffer())).toEqual(data);
  }, 300_000);

  it("an expired media id and an altered file end in MediaFailed with the reason", async () => {
    const expired = userSendsFile("image", "image/jpeg", jpeg(10_000));
    parley.sim.expireMedia(expired);
    const tampered = userSendsFile("document", "application/pdf", pdf(50_000));
    parley.sim.tamperMedia(tampered);
    const [a, b] = [await outcomeOf(expired), await outcomeOf(tampered)];
    expect(a).toMatchObject({ type: "MediaFailed", data: { reason: "id_expired" } });
    expect(b).toMatchObject({ type: "MediaFailed", data: { reason: "hash_mismatch" } });
    // Nothing of the altered file is kept.
    const kept = readdirSync(join(storeDir, "inbound", NUMBER));
    expect(kept).not.toContain(tampered);
    expect((await download(tampered)).status).toBe(404);
  }, 300_000);

  it("a duplicate inbound event downloads nothing again", async () => {
    const id = userSendsFile("image", "image/jpeg", jpeg(20_000));
    await outcomeOf(id);
    const original = parley.seen.find(
      (e) =>
        e.type === "InboundMessageReceived" &&
        (e.data.message as { image?: { id: string } }).image?.id === id,
    );
    if (original === undefined) throw new Error("the inbound event was not read");
    await parley.publish([original, original]);
    // The same contact's next file is handled after the copies (one partition, in order).
    const next = userSendsFile("image", "image/jpeg", jpeg(5_000));
    await outcomeOf(next);
    expect(parley.sim.mediaStats(id)).toEqual({ lookups: 1, downloads: 1 });
    expect(ofMedia(id)).toHaveLength(1);
  }, 300_000);

  it("a media service killed mid-download stores the file exactly once after its restart", async () => {
    parley.sim.scriptFaults([{ kind: "delay", ms: 15_000 }], { endpoint: "download" });
    const data = pdf(700_000);
    const id = userSendsFile("document", "application/pdf", data);
    await waitFor(() => parley.sim.mediaStats(id).downloads >= 1, {
      timeoutMs: 120_000,
      description: "the download under way",
    });
    if (media === undefined) throw new Error("media not running");
    await stopService(media, "SIGKILL");
    await startMedia();
    const outcome = await outcomeOf(id);
    expect(outcome.type).toBe("MediaStored");
    await waitFor(
      () =>
        Promise.resolve(
          !readdirSync(join(storeDir, "inbound", NUMBER)).some((f) => f.includes(".tmp-")),
        ),
      { timeoutMs: 30_000, description: "no temporary file left" },
    );
    const files = readdirSync(join(storeDir, "inbound", NUMBER)).filter((f) => f.startsWith(id));
    expect(files).toEqual([id]);
    expect(ofMedia(id)).toHaveLength(1);
    expect(Buffer.from(await (await download(id)).arrayBuffer())).toEqual(data);
  }, 300_000);
});
