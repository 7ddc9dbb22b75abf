import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { createInProcessTransport, createSimulator } from "@parley/cloud-api-sim";
import { createCommandHandler, createMemoryStateStore } from "@parley/decider";
import { parseNumberDirectory } from "@parley/numbers";
import { describe, expect, it } from "vitest";
import { createGraphMediaSource } from "../adapters/graph/media-source.js";
import { eventIdOf } from "../adapters/kafka/event-id.js";
import { createKeyRing, parseKeyEncryptionKeys } from "../crypto/keyring.js";
import { mediaObject, type MediaOutput, type MediaState } from "../domain/media-object.js";
import { createMemoryMediaQueries } from "../media/memory-queries.js";
import { createMediaObjects } from "../media/objects.js";
import { createMemoryObjectStore } from "../storage/memory-store.js";
import {
  createGraphIds,
  GraphUploadRefusedError,
  type CachedGraphId,
  type GraphIdCache,
} from "./graph-ids.js";

const TOKEN = "outbound-graph-token";
const A = "106540352242901";
const B = "106540352242902";
const DAY = 86_400_000;

function setUp() {
  const sim = createSimulator({
    seed: "media-outbound",
    accessTokens: [{ token: TOKEN }],
    businesses: [
      {
        wabaId: "1022901293401",
        phoneNumbers: [
          { id: A, displayPhoneNumber: "15550100901" },
          { id: B, displayPhoneNumber: "15550100902" },
        ],
      },
    ],
  });
  const source = createGraphMediaSource({
    directory: parseNumberDirectory({
      numbers: [
        { phoneNumberId: A, wabaId: "1022901293401", accessToken: TOKEN },
        { phoneNumberId: B, wabaId: "1022901293401", accessToken: TOKEN },
      ],
    }),
    baseUrl: "http://sim.test",
    graphVersion: "v23.0",
    mediaHosts: [],
    timeoutMs: 5_000,
    transport: createInProcessTransport(sim),
  });
  const stateStore = createMemoryStateStore<MediaState, MediaOutput>();
  const objects = createMediaObjects({
    commands: createCommandHandler({
      decider: mediaObject,
      store: stateStore,
      publish: () => Promise.resolve(),
      context: (batch, now) => batch.map(() => ({ now, eventIdOf, retention: { defaultDays: 0 } })),
    }),
    queries: createMemoryMediaQueries(stateStore),
    store: createMemoryObjectStore(),
    keys: createKeyRing(parseKeyEncryptionKeys(`k:${randomBytes(32).toString("base64")}`)),
    maxBytes: 1_000_000,
  });
  const entries = new Map<string, CachedGraphId>();
  const cache: GraphIdCache = {
    get: (pn, sha) => Promise.resolve(entries.get(`${pn}:${sha}`)),
    put: (pn, sha, entry) => {
      entries.set(`${pn}:${sha}`, entry);
      return Promise.resolve();
    },
  };
  let now = new Date("2026-03-01T00:00:00Z");
  const resolve = createGraphIds({ objects, uploader: source, cache, clock: () => now });
  const upload = async (data: Buffer, mimeType = "image/jpeg") =>
    (
      await objects.upload({
        body: Readable.from([data]),
        mimeType,
        length: data.length,
        owner: "orders",
      })
    ).id;
  return {
    sim,
    resolve,
    upload,
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
  };
}

const jpeg = (n: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(n)]);

describe("outbound media: Graph ids per number and content", () => {
  it("uploads once per number and content, re-uploads near the 30-day end", async () => {
    const t = setUp();
    const data = jpeg(40_000);
    const id = await t.upload(data);
    const first = await t.resolve(id, A);
    expect(first.reused).toBe(false);
    const again = await t.resolve(id, A);
    expect(again).toMatchObject({ reused: true, graphMediaId: first.graphMediaId });
    // The same bytes uploaded again by another caller: same content hash, same Graph id.
    const copy = await t.upload(Buffer.from(data));
    expect((await t.resolve(copy, A)).graphMediaId).toBe(first.graphMediaId);
    // Another number: its own upload (ids belong to the number that uploaded them).
    const other = await t.resolve(id, B);
    expect(other.reused).toBe(false);
    expect(other.graphMediaId).not.toBe(first.graphMediaId);
    t.advance(26 * DAY);
    expect((await t.resolve(id, A)).reused).toBe(true);
    t.advance(2 * DAY);
    const renewed = await t.resolve(id, A);
    expect(renewed.reused).toBe(false);
    expect(renewed.graphMediaId).not.toBe(first.graphMediaId);
  });

  it("a number Parley holds no token for is refused without a call", async () => {
    const t = setUp();
    const id = await t.upload(jpeg(100));
    await expect(t.resolve(id, "999999999999999")).rejects.toBeInstanceOf(GraphUploadRefusedError);
  });
});
