import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCloudApiClient } from "./client.js";
import { CloudApiTransportError } from "./errors.js";
import { ResponseBodyError, createUndiciTransport, type HttpRequest } from "./http.js";

/* The undici transport's buffered path against a local HTTP server that misbehaves on request. */

const behaviours: Record<string, (res: ServerResponse) => void> = {
  "/ok": (res) => {
    res.writeHead(200, { "content-type": "application/json", "X-FB-Trace-Id": "AbC" });
    res.end('{"messages":[{"id":"wamid.1"}]}');
  },
  "/large": (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("x".repeat(4_096));
  },
  "/cut": (res) => {
    // Headers promise 1,000 bytes; the socket closes after 10.
    res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
    res.write('{"message');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  "/v23.0/123/messages": (res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
    res.write('{"messaging_product":"whatsapp","contacts":');
    setTimeout(() => res.socket?.destroy(), 20);
  },
};

let server: Server;
let base = "";
const transport = createUndiciTransport({ connectionsPerOrigin: 4 });

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => behaviours[req.url ?? ""]?.(res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});

afterAll(async () => {
  await transport.close();
  server.close();
});

const post = (path: string): HttpRequest => ({
  method: "POST",
  url: `${base}${path}`,
  headers: { "content-type": "application/json" },
  body: "{}",
  timeoutMs: 2_000,
});

describe("createUndiciTransport().requestText", () => {
  it("returns the status, the headers in lower case and the whole body as text", async () => {
    const res = await transport.requestText?.(post("/ok"), 1_024);
    expect(res?.status).toBe(200);
    expect(res?.headers["x-fb-trace-id"]).toBe("AbC");
    expect(JSON.parse(res?.text ?? "")).toEqual({ messages: [{ id: "wamid.1" }] });
  });

  it("refuses a body over the cap as a body failure, after the status arrived", async () => {
    const err = await transport.requestText?.(post("/large"), 1_024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseBodyError);
    expect((err as ResponseBodyError).cause).toBeInstanceOf(RangeError);
  });

  it("reports a body cut off mid-way as a body failure", async () => {
    const err = await transport.requestText?.(post("/cut"), 1_024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseBodyError);
  });

  it("reports a refused connection as it is, not as a body failure", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await transport
      .requestText?.({ ...post("/ok"), url: `http://127.0.0.1:${String(port)}/ok` }, 1_024)
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(ResponseBodyError);
    expect((err as { code?: string }).code).toBe("ECONNREFUSED");
  });
});

describe("the client over the buffered path", () => {
  it("marks a send whose answer was cut off as in doubt", async () => {
    const client = createCloudApiClient({ accessToken: "t", baseUrl: base, transport });
    const err = await client
      .sendMessage("123", {
        messaging_product: "whatsapp",
        to: "16505551234",
        type: "text",
        text: { body: "hi" },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudApiTransportError);
    expect((err as CloudApiTransportError).message).toMatch(/reading the response failed/);
    expect((err as CloudApiTransportError).inDoubt).toBe(true);
  });
});
