import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createCloudApiClient } from "@parley/cloud-api";
import { createCommandHandler, createMemoryStateStore } from "@parley/decider";
import { parseNumberDirectory } from "@parley/numbers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGraphMediaSource } from "../adapters/graph/media-source.js";
import { eventIdOf } from "../adapters/kafka/event-id.js";
import { createFsObjectStore } from "../adapters/store/fs-object-store.js";
import { createKeyRing, parseKeyEncryptionKeys } from "../crypto/keyring.js";
import { mediaObject, type MediaOutput, type MediaState } from "../domain/media-object.js";
import { createMemoryMediaQueries } from "../media/memory-queries.js";
import { createMediaObjects } from "../media/objects.js";
import { createGraphIds, type CachedGraphId } from "./graph-ids.js";

// Issue 24: an upload to Graph streams the stored file (decrypted chunk by chunk) into the
// multipart body; nothing holds a whole file of up to 100 MB. The simulator runs as its own
// process (Meta's side buffers what it receives; this process must not), reached over a socket
// with the production transport (undici), and the file comes from the filesystem store.

const TOKEN = "upload-stream-token";
const NUMBER = "106540352242977";
const SIZE = 96 * 1024 * 1024;
const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

let sim: ChildProcess | undefined;
let simUrl = "";
let dir = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "parley-upload-stream-"));
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, "packages/cloud-api-sim/dist/cli.js"),
      "--port",
      "0",
      "--phone-number-id",
      NUMBER,
      "--no-webhooks",
    ],
    {
      env: { ...process.env, PARLEY_SIM_ACCESS_TOKEN: TOKEN },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  sim = child;
  simUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once("exit", (code) => {
      reject(new Error(`simulator exited ${String(code)}: ${out}`));
    });
  });
}, 30_000);

afterAll(() => {
  sim?.kill();
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** A PDF of `size` bytes made on the fly (never whole in memory), and its sha256. */
function pdfStream(size: number, seed: Buffer): { body: Readable; sha256: () => string } {
  const hash = createHash("sha256");
  const head = Buffer.from("%PDF-1.7\n");
  let made = 0;
  const body = new Readable({
    read() {
      if (made >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(1024 * 1024, size - made);
      const chunk = Buffer.alloc(n);
      for (let i = 0; i < n; i += seed.length) seed.copy(chunk, i, 0, Math.min(seed.length, n - i));
      if (made === 0) head.copy(chunk, 0);
      chunk.writeUInt32BE(made >>> 0, n - 4);
      made += n;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { body, sha256: () => hash.digest("hex") };
}

describe("uploading a stored file to Graph", () => {
  it("streams a 96 MB document: the Graph id's file has its hash, and this process's memory does not grow by the file", async () => {
    const store = createFsObjectStore({ root: dir });
    const stateStore = createMemoryStateStore<MediaState, MediaOutput>();
    const keys = createKeyRing(parseKeyEncryptionKeys(`k1:${randomBytes(32).toString("base64")}`));
    const objects = createMediaObjects({
      commands: createCommandHandler({
        decider: mediaObject,
        store: stateStore,
        publish: () => Promise.resolve(),
        context: (batch, now) =>
          batch.map(() => ({ now, eventIdOf, retention: { defaultDays: 30 } })),
      }),
      queries: createMemoryMediaQueries(stateStore),
      store,
      keys,
      maxBytes: 100 * 1024 * 1024,
    });
    const file = pdfStream(SIZE, randomBytes(4096));
    const uploaded = await objects.upload({
      body: file.body,
      mimeType: "application/pdf",
      length: SIZE,
      filename: "big.pdf",
      owner: "test",
    });
    expect(uploaded.sha256).toBe(file.sha256());

    const directory = parseNumberDirectory({
      numbers: [{ phoneNumberId: NUMBER, wabaId: "1022901293477", accessToken: TOKEN }],
    });
    const source = createGraphMediaSource({
      directory,
      baseUrl: simUrl,
      graphVersion: "v23.0",
      mediaHosts: [],
      timeoutMs: 60_000,
    });
    const cache = new Map<string, CachedGraphId>();
    const resolve = createGraphIds({
      objects,
      uploader: source,
      cache: {
        get: (n, h) => Promise.resolve(cache.get(`${n}:${h}`)),
        put: (n, h, e) => {
          cache.set(`${n}:${h}`, e);
          return Promise.resolve();
        },
      },
    });

    // Peak growth of what would hold a buffered file: memory outside the V8 heap (Buffers)
    // plus the heap, sampled while the upload runs.
    const used = () => {
      const m = process.memoryUsage();
      return m.arrayBuffers + m.heapUsed;
    };
    const before = used();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, used());
    }, 5);
    let graphMediaId: string;
    try {
      graphMediaId = (await resolve(uploaded.id, NUMBER)).graphMediaId;
    } finally {
      clearInterval(sampler);
      await source.close();
    }
    peak = Math.max(peak, used());
    const grewMb = (peak - before) / (1024 * 1024);
    // A whole-file buffer would add at least the file (96 MB), twice with the multipart copy.
    expect(grewMb, `grew ${grewMb.toFixed(1)} MB`).toBeLessThan(48);
    process.stdout.write(
      `upload of ${String(SIZE)} bytes: memory grew ${grewMb.toFixed(1)} MB at peak\n`,
    );

    // Meta has the file: Graph's look-up of the id answers its size and hash.
    const client = createCloudApiClient({
      accessToken: () => TOKEN,
      baseUrl: simUrl,
      graphVersion: "v23.0",
    });
    try {
      const info = await client.getMedia(graphMediaId, { phoneNumberId: NUMBER });
      expect(info.fileSize).toBe(SIZE);
      expect(info.sha256).toBe(uploaded.sha256);
    } finally {
      await client.close();
    }
  }, 120_000);

  it("a stream shorter than its announced size aborts the upload; Graph keeps nothing", async () => {
    const client = createCloudApiClient({
      accessToken: () => TOKEN,
      baseUrl: simUrl,
      graphVersion: "v23.0",
    });
    try {
      await expect(
        client.uploadMedia(NUMBER, {
          body: Readable.from([Buffer.from("%PDF-1.7\n"), Buffer.alloc(1000)]),
          size: 5000,
          mimeType: "application/pdf",
        }),
      ).rejects.toMatchObject({ name: expect.stringMatching(/CloudApi/) as unknown });
      await expect(
        client.uploadMedia(NUMBER, {
          body: Readable.from([Buffer.from("%PDF-1.7\n"), Buffer.alloc(9000)]),
          size: 5000,
          mimeType: "application/pdf",
        }),
      ).rejects.toMatchObject({ name: expect.stringMatching(/CloudApi/) as unknown });
      const ok = await client.uploadMedia(NUMBER, {
        body: Readable.from([Buffer.from("%PDF-1.7\n"), Buffer.alloc(4991)]),
        size: 5000,
        mimeType: "application/pdf",
      });
      expect((await client.getMedia(ok.id, { phoneNumberId: NUMBER })).fileSize).toBe(5000);
    } finally {
      await client.close();
    }
  });

  it("any chunking of a streamed file: exactly its announced size is kept with its hash, any other size is refused", async () => {
    const client = createCloudApiClient({
      accessToken: () => TOKEN,
      baseUrl: simUrl,
      graphVersion: "v23.0",
    });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ minLength: 0, maxLength: 4096 }), { maxLength: 12 }),
          fc.integer({ min: -3, max: 3 }),
          async (chunks, delta) => {
            const head = Buffer.from("%PDF-1.7\n");
            const data = Buffer.concat([head, ...chunks.map((c) => Buffer.from(c))]);
            const size = data.length + delta;
            const upload = client.uploadMedia(NUMBER, {
              body: Readable.from([head, ...chunks.map((c) => Buffer.from(c))]),
              size,
              mimeType: "application/pdf",
            });
            if (delta !== 0) {
              await expect(upload).rejects.toThrow();
              return;
            }
            const { id } = await upload;
            const info = await client.getMedia(id, { phoneNumberId: NUMBER });
            expect(info.fileSize).toBe(data.length);
            expect(info.sha256).toBe(createHash("sha256").update(data).digest("hex"));
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await client.close();
    }
  });
});
