import { createHash, randomBytes } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { createInProcessTransport, createSimulator, type Simulator } from "@parley/cloud-api-sim";
import { createCommandHandler, createMemoryStateStore } from "@parley/decider";
import { parseNumberDirectory } from "@parley/numbers";
import { describe, expect, it } from "vitest";
import { createGraphMediaSource } from "../adapters/graph/media-source.js";
import { eventIdOf } from "../adapters/kafka/event-id.js";
import { createKeyRing, parseKeyEncryptionKeys } from "../crypto/keyring.js";
import { createOpenStream } from "../crypto/sealed.js";
import {
  mediaObject,
  type Announcement,
  type MediaOutput,
  type MediaState,
} from "../domain/media-object.js";
import { createInboundMedia } from "../media/inbound.js";
import { createMemoryObjectStore } from "../storage/memory-store.js";
import { createMetrics } from "@parley/telemetry";
import { createMediaMetrics } from "../metrics.js";
import { createMemoryMediaQueries } from "../media/memory-queries.js";
import { createMediaObjects } from "../media/objects.js";
import { createIngest, hexOfSha256, inboundKeyOf, type IngestObserver } from "./ingest.js";
import type { MediaSource } from "./ports.js";

const TOKEN = "unit-graph-token";
const NUMBER = "106540352242981";
const USER = "16505550181";

const collect = async (stream: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
};

function setUp({
  attempts = 4,
  observer,
  wrapSource = (s) => s,
}: {
  attempts?: number;
  observer?: IngestObserver;
  /** Puts something between the ingest and the Graph adapter (a pause mid-download). */
  wrapSource?: (source: MediaSource) => MediaSource;
} = {}) {
  const sim: Simulator = createSimulator({
    seed: "media-unit",
    accessTokens: [{ token: TOKEN }],
    businesses: [
      {
        wabaId: "1022901293406",
        phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100981" }],
      },
    ],
  });
  sim.setPublicBaseUrl("http://sim.test");
  const directory = parseNumberDirectory({
    numbers: [{ phoneNumberId: NUMBER, wabaId: "1022901293406", accessToken: TOKEN }],
  });
  const source = createGraphMediaSource({
    directory,
    baseUrl: "http://sim.test",
    graphVersion: "v23.0",
    mediaHosts: [],
    timeoutMs: 5_000,
    transport: createInProcessTransport(sim),
  });
  const store = createMemoryObjectStore();
  const keys = createKeyRing(parseKeyEncryptionKeys(`k1:${randomBytes(32).toString("base64")}`));
  const sleeps: number[] = [];
  const ingest = createIngest({
    source: wrapSource(source),
    store,
    keys,
    attempts,
    ...(observer === undefined ? {} : { observer }),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  const send = (type: "image" | "document", mimeType: string, data: Buffer) => {
    const { message } = sim.userSends(USER, { type, mimeType, data }, { phoneNumberId: NUMBER });
    const media = (message as unknown as Record<string, { id: string; sha256: string }>)[type];
    if (media === undefined) throw new Error("no media");
    const announcement: Announcement = {
      contactId: USER,
      wamid: "wamid.x",
      kind: type,
      businessNumber: NUMBER,
      mimeType,
      sha256: media.sha256,
      correlationId: "d-1",
      causationId: eventIdOf("inbound"),
    };
    return { mediaId: media.id, announcement };
  };
  const decrypt = async (object: {
    storageKey: string;
    keyId: string;
    wrappedKey: string;
    sizeBytes: number;
    chunkBytes: number;
  }) =>
    collect(
      (await store.get(object.storageKey)).pipe(
        createOpenStream(keys.unwrap({ keyId: object.keyId, wrapped: object.wrappedKey }), {
          size: object.sizeBytes,
          chunkBytes: object.chunkBytes,
        }),
      ),
    );
  return { sim, store, keys, ingest, send, decrypt, sleeps };
}

const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(n)]);

describe("inbound ingest against the simulator", () => {
  it("stores the file sealed; its decrypted bytes equal the sent ones", async () => {
    const t = setUp();
    const data = jpeg(200_000);
    const { mediaId, announcement } = t.send("image", "image/jpeg", data);
    const outcome = await t.ingest(mediaId, announcement);
    if (outcome.kind !== "stored") throw new Error(outcome.detail);
    expect(outcome.object.sha256Hex).toBe(createHash("sha256").update(data).digest("hex"));
    expect(await t.decrypt(outcome.object)).toEqual(data);
    const raw = await collect(await t.store.get(outcome.object.storageKey));
    expect(raw.includes(data.subarray(10, 74))).toBe(false);
  });

  it("asks Graph again when the URL expires mid-download", async () => {
    const t = setUp();
    t.sim.scriptFaults([{ kind: "cut", afterBytes: 70_000, expireUrl: true }], {
      endpoint: "download",
    });
    const data = jpeg(300_000);
    const { mediaId, announcement } = t.send("image", "image/jpeg", data);
    const outcome = await t.ingest(mediaId, announcement);
    expect(outcome.kind).toBe("stored");
    expect(t.sim.mediaStats(mediaId)).toEqual({ lookups: 2, downloads: 2 });
    if (outcome.kind === "stored") expect(await t.decrypt(outcome.object)).toEqual(data);
  });

  it("retries 5xx pages with back-off, then gives up bounded", async () => {
    const t = setUp({ attempts: 3 });
    t.sim.scriptFaults(
      [
        { kind: "error", code: 0, http: 503 },
        { kind: "error", code: 0, http: 502 },
      ],
      { endpoint: "download" },
    );
    const ok = t.send("image", "image/jpeg", jpeg(1_000));
    expect((await t.ingest(ok.mediaId, ok.announcement)).kind).toBe("stored");
    expect(t.sleeps).toHaveLength(2);
    t.sim.scriptFaults(
      [1, 2, 3].map(() => ({ kind: "error" as const, code: 0, http: 500 })),
      { endpoint: "download" },
    );
    const failing = t.send("image", "image/jpeg", jpeg(1_000));
    await expect(t.ingest(failing.mediaId, failing.announcement)).rejects.toMatchObject({
      name: "DownloadFailedError",
      retry: "bounded",
    });
  });

  it("ends an expired id, an altered file and content of another type in a failure with its reason, keeping nothing", async () => {
    const t = setUp();
    const expired = t.send("image", "image/jpeg", jpeg(1_000));
    t.sim.expireMedia(expired.mediaId);
    expect(await t.ingest(expired.mediaId, expired.announcement)).toMatchObject({
      kind: "failed",
      reason: "id_expired",
    });
    const altered = t.send("image", "image/jpeg", jpeg(5_000));
    t.sim.tamperMedia(altered.mediaId);
    expect(await t.ingest(altered.mediaId, altered.announcement)).toMatchObject({
      kind: "failed",
      reason: "hash_mismatch",
    });
    const exe = t.send("document", "application/pdf", Buffer.from("MZ\x90\x00 not a pdf"));
    expect(await t.ingest(exe.mediaId, exe.announcement)).toMatchObject({
      kind: "failed",
      reason: "type_mismatch",
    });
    expect(t.store.size()).toBe(0);
  });

  it("hex and base64 sha256 compare alike", () => {
    const hex = createHash("sha256").update("x").digest("hex");
    expect(hexOfSha256(Buffer.from(hex, "hex").toString("base64"))).toBe(hex);
    expect(hexOfSha256(hex.toUpperCase())).toBe(hex);
    expect(hexOfSha256("short")).toBeUndefined();
  });
});

describe("media metrics", () => {
  /** The value of one series in a text exposition, labels in any order (0 when absent). */
  const valueOf = (text: string, series: string): number => {
    const key = (s: string) => {
      const [name = "", labels = ""] = s.replace(/\}$/, "").split("{");
      return `${name}{${labels.split(",").sort().join(",")}}`;
    };
    const wanted = key(series);
    const line = text.split("\n").find((l) => key(l.slice(0, l.lastIndexOf(" "))) === wanted);
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
  };

  it("count fetch latency, failures by reason, bytes stored and downloads in flight", async () => {
    const metrics = createMetrics({ service: "media", collectDefaults: false });
    const series = createMediaMetrics(metrics);
    let peak = 0;
    let current = 0;
    const t = setUp({
      attempts: 2,
      observer: {
        ...series.ingest,
        inFlight: (delta) => {
          series.ingest.inFlight?.(delta);
          current += delta;
          peak = Math.max(peak, current);
        },
      },
    });
    const a = t.send("image", "image/jpeg", jpeg(10_000));
    const b = t.send("image", "image/jpeg", jpeg(20_000));
    const expired = t.send("image", "image/jpeg", jpeg(1_000));
    t.sim.expireMedia(expired.mediaId);
    const altered = t.send("image", "image/jpeg", jpeg(1_000));
    t.sim.tamperMedia(altered.mediaId);
    await Promise.all([
      t.ingest(a.mediaId, a.announcement),
      t.ingest(b.mediaId, b.announcement),
      t.ingest(expired.mediaId, expired.announcement),
      t.ingest(altered.mediaId, altered.announcement),
    ]);
    t.sim.scriptFaults(
      [1, 2].map(() => ({ kind: "error" as const, code: 0, http: 500 })),
      { endpoint: "download" },
    );
    const failing = t.send("image", "image/jpeg", jpeg(1_000));
    await expect(t.ingest(failing.mediaId, failing.announcement)).rejects.toMatchObject({
      name: "DownloadFailedError",
    });
    series.objects.uploaded?.(777);
    series.objects.deleted?.("erasure");

    const text = await metrics.metrics();
    const l = 'service="media"';
    expect(peak).toBe(4);
    expect(valueOf(text, `parley_media_downloads_in_flight{${l}}`)).toBe(0);
    expect(valueOf(text, `parley_media_fetch_seconds_count{outcome="stored",${l}}`)).toBe(2);
    expect(valueOf(text, `parley_media_fetch_seconds_count{outcome="failed",${l}}`)).toBe(3);
    expect(valueOf(text, `parley_media_fetch_failures_total{reason="id_expired",${l}}`)).toBe(1);
    expect(valueOf(text, `parley_media_fetch_failures_total{reason="hash_mismatch",${l}}`)).toBe(1);
    expect(valueOf(text, `parley_media_fetch_failures_total{reason="gave_up",${l}}`)).toBe(1);
    expect(valueOf(text, `parley_media_stored_bytes_total{origin="inbound",${l}}`)).toBe(
      10_004 + 20_004,
    );
    expect(valueOf(text, `parley_media_stored_objects_total{origin="inbound",${l}}`)).toBe(2);
    expect(valueOf(text, `parley_media_stored_bytes_total{origin="upload",${l}}`)).toBe(777);
    expect(valueOf(text, `parley_media_deleted_objects_total{reason="erasure",${l}}`)).toBe(1);
    expect(
      valueOf(text, `parley_media_fetch_attempts_total{step="download",outcome="transient",${l}}`),
    ).toBe(2);
  });
});

describe("inbound media idempotency", () => {
  function withHandler(attempts = 4, wrapSource?: (source: MediaSource) => MediaSource) {
    const t = setUp({ attempts, ...(wrapSource === undefined ? {} : { wrapSource }) });
    const stateStore = createMemoryStateStore<MediaState, MediaOutput>();
    const published: MediaOutput[] = [];
    const commands = createCommandHandler({
      decider: mediaObject,
      store: stateStore,
      publish: (events) => {
        published.push(...events);
        return Promise.resolve();
      },
      context: (batch, now) =>
        batch.map(() => ({ now, eventIdOf, retention: { defaultDays: 30 } })),
    });
    return {
      ...t,
      published,
      stateStore,
      objects: createMediaObjects({
        commands,
        queries: createMemoryMediaQueries(stateStore),
        store: t.store,
        keys: t.keys,
        maxBytes: 100 * 1024 * 1024,
      }),
      handle: createInboundMedia({
        commands,
        store: stateStore,
        ingest: t.ingest,
        objects: t.store,
      }),
    };
  }

  /** A source whose downloads stop after `bytes` until `release` is called. */
  function pausing(bytes: number) {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reached: () => void = () => undefined;
    const paused = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const wrap = (source: MediaSource): MediaSource => ({
      lookUp: (id, number) => source.lookUp(id, number),
      async open(url, number) {
        const { body } = await source.open(url, number);
        let seen = 0;
        const hold = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            const before = seen;
            seen += chunk.length;
            if (before < bytes && seen >= bytes) {
              reached();
              void released.then(() => {
                done(null, chunk);
              });
              return;
            }
            done(null, chunk);
          },
        });
        return { body: body.pipe(hold) };
      },
    });
    return { wrap, paused, release };
  }

  it("an erasure while the file downloads leaves nothing of it stored (and says so with MediaDeleted)", async () => {
    const gate = pausing(50_000);
    const t = withHandler(4, gate.wrap);
    const data = jpeg(400_000);
    const { mediaId, announcement } = t.send("image", "image/jpeg", data);
    const other = t.send("image", "image/jpeg", jpeg(5_000));
    const handling = t.handle(mediaId, announcement);
    await gate.paused;
    // Mid-download: the contact is erased (the consent service's erasure calls this).
    expect(await t.objects.erase(USER)).toBe(1);
    gate.release();
    await handling;
    expect(t.store.size()).toBe(0);
    expect(t.published.map((e) => e.type)).toEqual(["MediaDeleted"]);
    expect(t.published[0]?.data).toMatchObject({
      mediaId,
      reason: "erasure",
      storageKey: inboundKeyOf(mediaId, NUMBER),
    });
    const state = t.stateStore.peek(mediaId)?.state;
    expect(state?.status).toBe("deleted");
    expect(state?.deleted?.removed).toBe(true);
    expect(state?.object?.wrappedKey).toBe("");
    await expect(t.objects.open(mediaId)).rejects.toMatchObject({ name: "MediaNotFoundError" });
    // The record comes again (a redelivery): nothing is downloaded or stored.
    await t.handle(mediaId, announcement);
    expect(t.sim.mediaStats(mediaId).downloads).toBe(1);
    expect(t.store.size()).toBe(0);
    // Another contact's media is untouched by the erasure.
    await t.handle(other.mediaId, { ...other.announcement, contactId: "16505550999" });
    expect(t.store.size()).toBe(1);
  });

  it("a download that wrote its bytes and died before recording them, erased meanwhile, leaves nothing when its record comes again", async () => {
    const t = withHandler();
    const { mediaId, announcement } = t.send("image", "image/jpeg", jpeg(30_000));
    // The same use case over the same state, whose process dies right after the bytes are
    // written and before the outcome is recorded.
    const dying = createInboundMedia({
      commands: createCommandHandler({
        decider: mediaObject,
        store: t.stateStore,
        publish: () => Promise.resolve(),
        context: (batch, now) =>
          batch.map(() => ({ now, eventIdOf, retention: { defaultDays: 30 } })),
      }),
      store: t.stateStore,
      ingest: async (id, a) => {
        await t.ingest(id, a);
        throw new Error("killed after the bytes were written");
      },
      objects: t.store,
    });
    await expect(dying(mediaId, announcement)).rejects.toThrow("killed");
    expect(t.store.size()).toBe(1);
    expect(await t.objects.erase(USER)).toBe(1);
    // The record comes again after the restart: the bytes go, nothing is downloaded again.
    await t.handle(mediaId, announcement);
    expect(t.store.size()).toBe(0);
    expect(t.sim.mediaStats(mediaId).downloads).toBe(1);
    expect(t.stateStore.peek(mediaId)?.state.status).toBe("deleted");
  });

  it("a duplicate announcement downloads once and publishes once", async () => {
    const t = withHandler();
    const { mediaId, announcement } = t.send("image", "image/jpeg", jpeg(10_000));
    await t.handle(mediaId, announcement);
    await t.handle(mediaId, announcement);
    expect(t.sim.mediaStats(mediaId).downloads).toBe(1);
    expect(t.published.map((e) => e.type)).toEqual(["MediaStored"]);
  });

  it("a download interrupted before its outcome is recorded is stored once when the record comes again", async () => {
    const t = withHandler(1);
    t.sim.scriptFaults([{ kind: "cut", afterBytes: 20_000 }], { endpoint: "download" });
    const data = jpeg(100_000);
    const { mediaId, announcement } = t.send("image", "image/jpeg", data);
    await expect(t.handle(mediaId, announcement)).rejects.toMatchObject({ retry: "bounded" });
    expect(t.published).toEqual([]);
    await t.handle(mediaId, announcement);
    expect(t.published.map((e) => e.type)).toEqual(["MediaStored"]);
    expect(t.store.size()).toBe(1);
  });
});
