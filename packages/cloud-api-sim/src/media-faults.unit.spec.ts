import { createHash } from "node:crypto";
import { createCloudApiClient, GraphApiError, UnexpectedResponseError } from "@parley/cloud-api";
import { describe, expect, it } from "vitest";
import { harness, TOKEN, USER } from "./harness.unit-helpers.js";
import { createInProcessTransport } from "./transport.js";

const read = async (body: NodeJS.ReadableStream): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
};

function setUp() {
  const h = harness({ accessTokens: [{ token: TOKEN }] });
  const graph = createCloudApiClient({
    accessToken: TOKEN,
    baseUrl: "http://sim",
    mediaHosts: ["127.0.0.1:4010"],
    transport: createInProcessTransport(h.sim),
  });
  const data = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5_000, 7)]);
  const { message } = h.sim.userSends(USER, { type: "image", mimeType: "image/jpeg", data });
  const mediaId = (message as unknown as { image: { id: string } }).image.id;
  return { h, graph, data, mediaId };
}

describe("simulator media fidelity (reference §5)", () => {
  it("a URL lives 5 minutes: after that its download is 404 and a new look-up serves again", async () => {
    const { h, graph, data, mediaId } = setUp();
    const info = await graph.getMedia(mediaId);
    expect(info.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    h.clock.advance(5 * 60_000 + 1);
    await expect(graph.downloadMedia(info.url)).rejects.toBeInstanceOf(UnexpectedResponseError);
    const again = await graph.getMedia(mediaId);
    expect(await read((await graph.downloadMedia(again.url)).body)).toEqual(data);
  });

  it("an expired media id answers 100 with subcode 33", async () => {
    const { h, graph, mediaId } = setUp();
    h.sim.expireMedia(mediaId);
    const error = await graph.getMedia(mediaId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphApiError);
    expect((error as GraphApiError).code).toBe(100);
    expect((error as GraphApiError).subcode).toBe(33);
  });

  it("a tampered file still announces the original sha256", async () => {
    const { h, graph, data, mediaId } = setUp();
    h.sim.tamperMedia(mediaId);
    const info = await graph.getMedia(mediaId);
    const got = await read((await graph.downloadMedia(info.url)).body);
    expect(got.length).toBe(data.length);
    expect(createHash("sha256").update(got).digest("hex")).not.toBe(info.sha256);
  });

  it("a cut download stops mid-body, and with expireUrl its URL is gone afterwards", async () => {
    const { h, graph, data, mediaId } = setUp();
    h.sim.scriptFaults([{ kind: "cut", afterBytes: 1_000, expireUrl: true }], {
      endpoint: "download",
    });
    const info = await graph.getMedia(mediaId);
    const first = await graph.downloadMedia(info.url);
    expect(first.contentLength).toBe(data.length);
    await expect(read(first.body)).rejects.toThrow(/closed/);
    await expect(graph.downloadMedia(info.url)).rejects.toBeInstanceOf(UnexpectedResponseError);
    const again = await graph.getMedia(mediaId);
    expect(await read((await graph.downloadMedia(again.url)).body)).toEqual(data);
    expect(h.sim.mediaStats(mediaId)).toEqual({ lookups: 2, downloads: 2 });
  });
});
