import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMediaClient } from "./media-client.js";

// The adapter translates the media service's answers only: checked over real HTTP against a
// server answering each status the route can give (the e2e runs the real media service).
let server: Server;
let url: string;
const seen: { method: string; path: string; auth: string }[] = [];

const answers: Record<string, { status: number; body?: unknown; hang?: boolean }> = {
  up_ok: { status: 200, body: { graphMediaId: "90001", phoneNumberId: "1", reused: false } },
  up_gone: { status: 404, body: { title: "Not Found", detail: "no stored media under that id" } },
  up_refused: { status: 422, body: { title: "Graph refused the upload", detail: "131053" } },
  up_down: { status: 503, body: { title: "Service Unavailable", detail: "mongo down" } },
  up_key: { status: 403, body: { title: "Forbidden" } },
  up_bad: { status: 400, body: { detail: "phoneNumberId must be digits" } },
  up_odd: { status: 200, body: { nothing: true } },
  up_slow: { status: 200, hang: true },
};

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({
      method: req.method ?? "",
      path: req.url ?? "",
      auth: req.headers.authorization ?? "",
    });
    const id = decodeURIComponent((req.url ?? "").split("/")[3] ?? "");
    const a = answers[id] ?? { status: 404 };
    if (a.hang) return;
    res.writeHead(a.status, { "content-type": "application/json" });
    res.end(JSON.stringify(a.body ?? {}));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const client = () => createMediaClient({ url, key: "k-send", timeoutMs: 300 });
const resolve = (id: string) =>
  client().resolve(id, "106540352240001", new AbortController().signal);

describe("media client", () => {
  it("posts to the graph-ids route with the key and reads the Graph media id", async () => {
    expect(await resolve("up_ok")).toEqual({ kind: "resolved", graphMediaId: "90001" });
    expect(seen.at(-1)).toEqual({
      method: "POST",
      path: "/v1/media/up_ok/graph-ids/106540352240001",
      auth: "Bearer k-send",
    });
  });

  it("404 and 422 (and other 4xx) are final, with the service's detail", async () => {
    expect(await resolve("up_gone")).toEqual({
      kind: "refused",
      detail: "no such media (404): no stored media under that id",
    });
    expect(await resolve("up_refused")).toEqual({
      kind: "refused",
      detail: "Graph refused the file (422): 131053",
    });
    expect(await resolve("up_bad")).toMatchObject({ kind: "refused" });
  });

  it("503, a refused key, an odd body, no answer in time and no server are outages", async () => {
    expect(await resolve("up_down")).toMatchObject({ kind: "unavailable" });
    expect(await resolve("up_key")).toMatchObject({
      kind: "unavailable",
      detail: expect.stringContaining("MEDIA_API_KEY") as unknown,
    });
    expect(await resolve("up_odd")).toMatchObject({ kind: "unavailable" });
    expect(await resolve("up_slow")).toMatchObject({ kind: "unavailable" });
    const nowhere = createMediaClient({ url: "http://127.0.0.1:1", key: "k", timeoutMs: 300 });
    expect(await nowhere.resolve("up_ok", "1", new AbortController().signal)).toMatchObject({
      kind: "unavailable",
      detail: expect.stringContaining("did not answer") as unknown,
    });
  });
});

describe("media client, any answer", () => {
  it("maps every status and body to exactly one of resolved, refused, unavailable, never throwing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 200, max: 599 }),
        fc.oneof(
          fc.record({ graphMediaId: fc.string({ minLength: 1 }) }),
          fc.record({ detail: fc.string(), title: fc.string() }, { requiredKeys: [] }),
          fc.jsonValue(),
          fc.constant("not json {"),
        ),
        async (status, body) => {
          const text = typeof body === "string" ? body : JSON.stringify(body);
          const media = createMediaClient({
            url: "http://media.invalid",
            key: "k",
            timeoutMs: 1_000,
            fetchImpl: () =>
              Promise.resolve(
                new Response(status === 204 || status === 205 || status === 304 ? null : text, {
                  status,
                }),
              ),
          });
          const r = await media.resolve("up_x", "1", new AbortController().signal);
          const id =
            typeof body === "object" && body !== null && "graphMediaId" in body
              ? body.graphMediaId
              : undefined;
          if (status === 200 && typeof id === "string" && id.length > 0)
            expect(r).toEqual({ kind: "resolved", graphMediaId: id });
          else if (
            status === 404 ||
            status === 422 ||
            (status >= 400 && status < 500 && status !== 401 && status !== 403)
          )
            expect(r.kind).toBe("refused");
          else expect(r.kind).toBe("unavailable");
        },
      ),
      { numRuns: 300 },
    );
  });
});
