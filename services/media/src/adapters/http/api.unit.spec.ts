import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { createCommandHandler, createMemoryStateStore } from "@parley/decider";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyRing, parseKeyEncryptionKeys } from "../../crypto/keyring.js";
import { mediaObject, type MediaOutput, type MediaState } from "../../domain/media-object.js";
import { createMemoryMediaQueries } from "../../media/memory-queries.js";
import { createMediaObjects } from "../../media/objects.js";
import { createMemoryObjectStore } from "../../storage/memory-store.js";
import { eventIdOf } from "../kafka/event-id.js";
import { parseRange } from "./range.js";
import { createAuthenticator } from "@parley/runtime";
import { startMediaApiServer, type MediaApiServer } from "./server.js";

const WRITER = "writer-key-0123456789";
const READER = "reader-key-0123456789";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const MAX = 20_000;

const stateStore = createMemoryStateStore<MediaState, MediaOutput>();
const objectStore = createMemoryObjectStore();
const queries = createMemoryMediaQueries(stateStore);
const keys = createKeyRing(
  parseKeyEncryptionKeys(
    `old:${randomBytes(32).toString("base64")},new:${randomBytes(32).toString("base64")}`,
  ),
);
const commands = createCommandHandler({
  decider: mediaObject,
  store: stateStore,
  publish: () => Promise.resolve(),
  context: (batch, now) => batch.map(() => ({ now, eventIdOf, retention: { defaultDays: 0 } })),
});
const objects = createMediaObjects({
  commands,
  queries,
  store: objectStore,
  keys,
  maxBytes: MAX,
  chunkBytes: 1_024,
});
let server: MediaApiServer;
let base = "";

beforeAll(async () => {
  server = await startMediaApiServer({
    objects,
    queries,
    authenticator: createAuthenticator({
      api: "media",
      keys: [
        { id: "writer", keySha256: sha(WRITER), scopes: ["read", "write", "delete"] },
        { id: "reader", keySha256: sha(READER), scopes: ["read"] },
      ],
    }),
    maxBytes: MAX,
    host: "127.0.0.1",
    port: 0,
  });
  base = `http://127.0.0.1:${String(server.port)}`;
});
afterAll(async () => {
  await server.stop();
});

const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(n)]);
const call = (
  path: string,
  {
    method = "GET",
    key = WRITER,
    headers = {},
    body,
  }: {
    method?: string;
    key?: string | null;
    headers?: Record<string, string>;
    body?: Buffer;
  } = {},
) =>
  fetch(`${base}${path}`, {
    method,
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(10_000),
  });
const upload = (data: Buffer, mime = "image/jpeg", key = WRITER) =>
  call("/v1/media", { method: "POST", key, headers: { "content-type": mime }, body: data });

describe("media API", () => {
  it("uploads, reads back whole and by range, audits, deletes", async () => {
    const data = jpeg(5_000);
    const res = await upload(data);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const meta = (await (await call(`/v1/media/${id}`, { key: READER })).json()) as Record<
      string,
      unknown
    >;
    expect(meta).toMatchObject({ id, status: "stored", sizeBytes: data.length, keyId: "new" });
    expect(meta).not.toHaveProperty("wrappedKey");
    const whole = await call(`/v1/media/${id}/content`, { key: READER });
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(data);
    const part = await call(`/v1/media/${id}/content`, {
      key: READER,
      headers: { range: "bytes=1000-3047" },
    });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(data.subarray(1_000, 3_048));
    expect(queries.audits.filter((a) => a.mediaId === id).map((a) => a.principal)).toEqual([
      "reader",
      "reader",
    ]);
    expect((await call(`/v1/media/${id}`, { method: "DELETE", key: READER })).status).toBe(403);
    expect((await call(`/v1/media/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await call(`/v1/media/${id}/content`)).status).toBe(404);
    expect(stateStore.peek(id)?.state.object?.wrappedKey).toBe("");
  });

  it("re-wraps data keys under an old key id without touching the stored bytes", async () => {
    const oldKey = `legacy:${randomBytes(32).toString("base64")}`;
    const newKey = `current:${randomBytes(32).toString("base64")}`;
    const make = (spec: string) =>
      createMediaObjects({
        commands,
        queries,
        store: objectStore,
        keys: createKeyRing(parseKeyEncryptionKeys(spec)),
        maxBytes: MAX,
      });
    const data = jpeg(3_000);
    const { id } = await make(oldKey).upload({
      body: Readable.from([data]),
      mimeType: "image/jpeg",
      length: data.length,
      owner: "t",
    });
    const read = async (stream: Readable) => Buffer.concat((await stream.toArray()) as Buffer[]);
    const before = await read(await objectStore.get(`uploads/${id}`));
    // Without the key its data key was wrapped by, the object cannot be read, and the error says so.
    await expect(make(newKey).open(id)).rejects.toThrow(/key id "legacy" is not configured/);
    const rotated = make(`${oldKey},${newKey}`);
    expect(await rotated.rewrap("legacy")).toBe(1);
    expect(await rotated.rewrap("legacy")).toBe(0);
    expect((await queries.get(id))?.object?.keyId).toBe("current");
    expect(await read(await objectStore.get(`uploads/${id}`))).toEqual(before);
    // Now the old key can go.
    expect(await read((await make(newKey).open(id)).body)).toEqual(data);
  });

  it("parses one byte range and refuses the rest", () => {
    expect(parseRange(undefined, 10)).toBe("none");
    expect(parseRange("bytes=0-0", 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange("bytes=-3", 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange("bytes=5-", 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange("bytes=8-100", 10)).toEqual({ start: 8, end: 9 });
    for (const bad of [
      "bytes=10-",
      "bytes=5-4",
      "bytes=-0",
      "bytes=0-1,3-4",
      "items=0-1",
      "bytes=-",
      "",
    ])
      expect(parseRange(bad, 10)).toBe("unsatisfiable");
  });

  it("property: valid uploads are each kept once, hostile requests each get a precise error", async () => {
    const hostile = fc.oneof(
      fc.record({ kind: fc.constant("no-key" as const) }),
      fc.record({ kind: fc.constant("bad-key" as const), key: fc.string({ maxLength: 80 }) }),
      fc.record({ kind: fc.constant("scope" as const) }),
      fc.record({
        kind: fc.constant("type" as const),
        mime: fc.constantFrom(
          "application/x-msdownload",
          "text/html",
          "",
          "image/svg+xml",
          "video/x-evil;;",
        ),
      }),
      fc.record({
        kind: fc.constant("mismatch" as const),
        mime: fc.constantFrom("image/png", "application/pdf", "audio/ogg"),
      }),
      fc.record({
        kind: fc.constant("oversize" as const),
        extra: fc.integer({ min: 1, max: 5_000 }),
      }),
      fc.record({
        kind: fc.constant("path" as const),
        path: fc.constantFrom(
          "/v1/media/..%2F..%2Fetc",
          "/v1/media/%00",
          `/v1/media/${"a".repeat(300)}`,
          "/v1/media/x/content/extra",
          "/v1/../../etc/passwd",
          "/v2/media",
        ),
      }),
      fc.record({ kind: fc.constant("range" as const), range: fc.string({ maxLength: 40 }) }),
    );
    const valid = fc.record({
      kind: fc.constant("valid" as const),
      size: fc.integer({ min: 1, max: 8_000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(valid, hostile), { minLength: 1, maxLength: 10 }),
        async (ops) => {
          const before = objectStore.size();
          const kept: { id: string; data: Buffer }[] = [];
          for (const op of ops) {
            switch (op.kind) {
              case "valid": {
                const data = jpeg(op.size);
                const res = await upload(data);
                expect(res.status).toBe(201);
                kept.push({ id: ((await res.json()) as { id: string }).id, data });
                break;
              }
              case "no-key":
                expect((await call("/v1/media/abc", { key: null })).status).toBe(401);
                break;
              case "bad-key": {
                const res = await call("/v1/media/abc", {
                  headers: { authorization: `Bearer ${op.key.replace(/[^\x21-\x7e]/g, "x")}` },
                  key: null,
                });
                expect(res.status).toBe(401);
                break;
              }
              case "scope":
                expect((await upload(jpeg(10), "image/jpeg", READER)).status).toBe(403);
                break;
              case "type": {
                const res = await upload(jpeg(10), op.mime);
                expect(res.status).toBe(415);
                expect(res.headers.get("content-type")).toMatch(/problem\+json/);
                break;
              }
              case "mismatch":
                expect((await upload(jpeg(100), op.mime)).status).toBe(422);
                break;
              case "oversize":
                expect((await upload(jpeg(MAX + op.extra))).status).toBe(413);
                break;
              case "path": {
                const res = await call(op.path);
                expect(res.status).toBe(404);
                break;
              }
              case "range": {
                const target = kept[0];
                if (target === undefined) break;
                const res = await call(`/v1/media/${target.id}/content`, {
                  headers: { range: op.range.replace(/[^\x20-\x7e]/g, "") },
                });
                expect([200, 206, 416]).toContain(res.status);
                if (res.status === 200)
                  expect(Buffer.from(await res.arrayBuffer())).toEqual(target.data);
                else await res.arrayBuffer();
                break;
              }
            }
          }
          expect(objectStore.size() - before).toBe(kept.length);
          for (const { id, data } of kept) {
            const res = await call(`/v1/media/${id}/content`);
            expect(Buffer.from(await res.arrayBuffer())).toEqual(data);
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
