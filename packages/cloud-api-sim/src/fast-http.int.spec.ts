// The lean HTTP/1.1 front (fast-http.ts) over real sockets: it must answer exactly what the
// node:http server answers, keep pipelined answers in order, and hand every request shape it does
// not parse itself to node:http on the same connection.
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { serveSimulator, type SimulatorServer } from "./server.js";
import { createSimulator, type Simulator } from "./simulator.js";

const TOKEN = "fast-token";
const PN = "106540352242922";

interface Parsed {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Splits a byte stream of HTTP/1.1 answers (Content-Length framed) into answers. */
function parseAnswers(raw: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf("\r\n\r\n", at);
    if (end === -1) break;
    const [line = "", ...lines] = raw.toString("latin1", at, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const c = l.indexOf(":");
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const len = Number(headers["content-length"] ?? "0");
    out.push({
      status: Number(line.split(" ")[1]),
      headers,
      body: raw.toString("utf8", end + 4, end + 4 + len),
    });
    at = end + 4 + len;
  }
  return out;
}

/** Writes `parts` to a new connection (with a pause between them) and reads until `answers` came. */
async function exchange(
  server: SimulatorServer,
  parts: readonly (string | Buffer)[],
  answers: number,
): Promise<{ answers: Parsed[]; closed: boolean }> {
  const socket = connect(server.port, "127.0.0.1");
  const chunks: Buffer[] = [];
  const state = { closed: false };
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("close", () => {
    state.closed = true;
  });
  await new Promise<void>((r) => socket.once("connect", r));
  for (const p of parts) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 5));
  }
  const until = Date.now() + 5_000;
  while (
    parseAnswers(Buffer.concat(chunks)).length < answers &&
    !state.closed &&
    Date.now() < until
  )
    await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 30));
  socket.destroy();
  return { answers: parseAnswers(Buffer.concat(chunks)), closed: state.closed };
}

function send(to: string, extraHeaders = ""): string {
  const body = JSON.stringify({
    messaging_product: "whatsapp",
    to,
    type: "text",
    text: { body: "héllo" },
  });
  return (
    `POST /v23.0/${PN}/messages HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer ${TOKEN}\r\n` +
    `Content-Type: application/json\r\n${extraHeaders}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

describe("fast HTTP front", () => {
  const open: { sim: Simulator; server: SimulatorServer }[] = [];
  async function start(fastPath: boolean): Promise<SimulatorServer> {
    const sim = createSimulator({
      seed: "fast",
      accessTokens: [{ token: TOKEN }],
      webhooks: { enabled: false },
    });
    const server = await serveSimulator(sim, { port: 0, fastPath });
    open.push({ sim, server });
    return server;
  }
  afterEach(async () => {
    for (const { sim, server } of open.splice(0)) {
      await server.close();
      await sim.stop();
    }
  });

  it("answers pipelined and byte-split requests like node:http, in order", async () => {
    const requests = [
      send("+16505551001"),
      send("+16505551002"),
      `GET /v23.0/${PN}?fields=throughput HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
      send("+16505551003", "Authorization-Extra: x\r\n").replace(`Bearer ${TOKEN}`, "Bearer bad"),
      `DELETE /v23.0/999 HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
    ];
    const fast = await exchange(await start(true), [requests.join("")], 5);
    const node = await exchange(await start(false), [requests.join("")], 5);
    expect(fast.answers).toHaveLength(5);
    const shape = (a: Parsed): unknown => ({
      status: a.status,
      body: a.body,
      type: a.headers["content-type"],
      version: a.headers["facebook-api-version"],
      trace: a.headers["x-fb-trace-id"],
      auth: a.headers["www-authenticate"],
    });
    expect(fast.answers.map(shape)).toEqual(node.answers.map(shape));
    expect(fast.answers.map((a) => a.status)).toEqual([200, 200, 200, 401, 400]);
    expect(fast.answers[0]?.headers["date"]).toBeDefined();

    // One request written a few bytes at a time.
    const one = Buffer.from(send("+16505551004"));
    const pieces: Buffer[] = [];
    for (let i = 0; i < one.length; i += 7) pieces.push(one.subarray(i, i + 7));
    const split = await exchange(await start(true), pieces, 1);
    expect(split.answers[0]?.status).toBe(200);
    expect(split.answers[0]?.body).toContain('"wa_id":"16505551004"');
  });

  it("hands other request shapes to node:http on the same connection", async () => {
    const server = await start(true);
    const body = JSON.stringify({
      messaging_product: "whatsapp",
      to: "+16505552001",
      type: "text",
      text: { body: "chunked" },
    });
    const chunked =
      `POST /v23.0/${PN}/messages HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const r = await exchange(server, [send("+16505552000"), chunked, send("+16505552002")], 3);
    expect(r.answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(r.answers[1]?.body).toContain('"wa_id":"16505552001"');
    expect(r.answers[1]?.headers["keep-alive"]).toBe("timeout=65"); // node:http answered it

    const http10 = await exchange(
      server,
      [send("+16505552003").replace("HTTP/1.1", "HTTP/1.0")],
      1,
    );
    expect(http10.answers[0]?.status).toBe(200);

    const garbage = await exchange(server, ["NOT HTTP AT ALL\r\n\r\n"], 1);
    expect(garbage.answers[0]?.status).toBe(400);

    const control = await exchange(server, ["GET /_sim/health HTTP/1.1\r\nHost: sim\r\n\r\n"], 1);
    expect(control.answers[0]?.body).toBe('{"ok":true}');
  });

  it("holds each request at the front for the queueing fault before handling, and counting, it", async () => {
    for (const fastPath of [true, false]) {
      const server = await start(fastPath);
      const sim = open[open.length - 1]?.sim;
      sim?.setFaults({ queueing: { kind: "fixed", ms: 150 } });
      const started = Date.now();
      const r = await exchange(server, [send("+16505554001") + send("+16505554002")], 2);
      expect(r.answers.map((a) => a.status)).toEqual([200, 200]);
      const accepted = (sim?.messages() ?? []).map((m) => m.acceptedAt - started);
      expect(accepted).toHaveLength(2);
      for (const at of accepted) expect(at).toBeGreaterThanOrEqual(145);
      // On the fast path a pipelined request waits behind the one before it, as at a front end.
      if (fastPath) expect(Math.max(...accepted)).toBeGreaterThanOrEqual(295);
    }
  });

  it("keeps order behind a delayed answer and closes on Connection: close", async () => {
    const server = await start(true);
    const sim = open[open.length - 1]?.sim;
    sim?.scriptFaults([{ kind: "delay", ms: 200 }], { endpoint: "messages" });
    const r = await exchange(server, [send("+16505553001") + send("+16505553002")], 2);
    expect(r.answers.map((a) => a.body.match(/"wa_id":"(\d+)"/)?.[1])).toEqual([
      "16505553001",
      "16505553002",
    ]);
    const c = await exchange(server, [send("+16505553003", "Connection: close\r\n")], 1);
    expect(c.answers[0]?.status).toBe(200);
    expect(c.answers[0]?.headers["connection"]).toBe("close");
    expect(c.closed).toBe(true);
  });
});
