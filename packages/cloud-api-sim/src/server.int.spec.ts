// Real sockets: the simulator's HTTP server, the client's undici transport, a webhook receiver.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CloudApiTimeoutError,
  createCloudApiClient,
  readBodyText,
  textMessage,
  verifyWebhookSignature,
  type CloudApiClient,
  type WebhookPayload,
} from "@parley/cloud-api";
import { parseCli, simulatorFor } from "./cli-options.js";
import { serveSimulator, type SimulatorServer } from "./server.js";
import { createSimulator, type Simulator } from "./simulator.js";

const SECRET = "int-secret";
const TOKEN = "int-token";
const USER = "16505551234";

async function waitFor<T>(probe: () => T | undefined, deadlineMs = 5_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error("condition not met before the deadline");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("simulator over HTTP", () => {
  let sim: Simulator;
  let server: SimulatorServer;
  let receiver: Server;
  let client: CloudApiClient;
  const received: { raw: string; ok: boolean; payload: WebhookPayload }[] = [];
  let failNext = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const ok = verifyWebhookSignature(raw, req.headers["x-hub-signature-256"], SECRET);
        received.push({ raw, ok, payload: JSON.parse(raw) as WebhookPayload });
        res.statusCode = failNext-- > 0 ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
    sim = createSimulator({
      seed: "int",
      appSecret: SECRET,
      accessTokens: [{ token: TOKEN }],
      webhookUrls: [hookUrl],
      statuses: {
        sentDelayMs: [10, 20],
        deliveredDelayMs: [10, 20],
        readDelayMs: [10, 20],
        readProbability: 1,
        skipDeliveredProbability: 0,
      },
      webhooks: { retryTimeScale: 0.001 },
    });
    server = await serveSimulator(sim, { port: 0 });
    client = createCloudApiClient({ accessToken: TOKEN, baseUrl: server.url, timeoutMs: 2_000 });
  });

  afterAll(async () => {
    await client.close();
    await server.close();
    await sim.stop();
    await new Promise<void>((r) =>
      receiver.close(() => {
        r();
      }),
    );
  });

  it("sends, then delivers signed inbound and status webhooks to the receiver", async () => {
    const res = await fetch(`${server.url}/_sim/users/${USER}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: { type: "text", body: "Olá, São Paulo 😀" } }),
    });
    expect(res.status).toBe(200);
    const sent = await client.sendMessage(
      sim.defaultPhoneNumberId,
      textMessage(`+${USER}`, "reply", { callbackData: "req-1" }),
    );
    const statuses = await waitFor(() => {
      const all = received.flatMap((r) =>
        r.payload.entry.flatMap((e) =>
          e.changes.flatMap(
            (c) => (c.value as { statuses?: { id: string; status: string }[] }).statuses ?? [],
          ),
        ),
      );
      return all.filter((s) => s.id === sent.wamid).length >= 3 ? all : undefined;
    });
    expect(statuses.filter((s) => s.id === sent.wamid).map((s) => s.status)).toEqual([
      "sent",
      "delivered",
      "read",
    ]);
    expect(received.every((r) => r.ok)).toBe(true);
    expect(received[0]?.raw).toContain("S\\u00e3o Paulo \\ud83d\\ude00");
  });

  it("retries a webhook the receiver refused", async () => {
    failNext = 2;
    const before = received.length;
    sim.userSends(USER, { type: "text", body: "retry" });
    await waitFor(() => (received.length >= before + 3 ? true : undefined));
    const bodies = received.slice(before, before + 3).map((r) => r.raw);
    expect(new Set(bodies).size).toBe(1);
  });

  it("streams media downloads over HTTP with the Bearer token", async () => {
    const { id } = await client.uploadMedia(sim.defaultPhoneNumberId, {
      data: Buffer.from("hello media"),
      mimeType: "text/plain",
      filename: "a.txt",
    });
    const dl = await client.downloadMediaById(id);
    expect(await readBodyText(dl.body)).toBe("hello media");
    const anonymous = await fetch(dl.info.url);
    expect(anonymous.status).toBe(401);
  });

  it("a hung request becomes a client timeout that is in doubt", async () => {
    const quick = createCloudApiClient({ accessToken: TOKEN, baseUrl: server.url, timeoutMs: 300 });
    sim.scriptFaults([{ kind: "timeout-after-accept" }], { endpoint: "messages" });
    const e = await quick
      .sendMessage(sim.defaultPhoneNumberId, textMessage(`+${USER}`, "lost answer"))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CloudApiTimeoutError);
    expect((e as CloudApiTimeoutError).inDoubt).toBe(true);
    await quick.close();
  });

  it("exposes inspection over /_sim", async () => {
    const r = (await (await fetch(`${server.url}/_sim/users/${USER}/received`)).json()) as {
      wamid: string;
    }[];
    expect(r.length).toBeGreaterThanOrEqual(2);
    const stats = (await (await fetch(`${server.url}/_sim/stats`)).json()) as {
      accepted: number;
    }[];
    expect(stats[0]?.accepted).toBeGreaterThanOrEqual(2);
  });

  it("grants and revokes access tokens over /_sim", async () => {
    const call = (token: string) =>
      fetch(`${server.url}/v23.0/${sim.defaultPhoneNumberId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await call("restored")).status).toBe(401);
    const granted = await fetch(`${server.url}/_sim/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "restored" }),
    });
    expect(granted.status).toBe(200);
    expect((await call("restored")).status).toBe(200);
    await fetch(`${server.url}/_sim/tokens/restored`, { method: "DELETE" });
    expect((await call("restored")).status).toBe(401);
    const empty = await fetch(`${server.url}/_sim/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({}),
    });
    expect(empty.status).toBe(400);
  });

  it("exposes pair pacing, the max per second and a stats reset over /_sim", async () => {
    const to = "16505559876";
    await fetch(`${server.url}/_sim/stats/reset`, { method: "POST" });
    for (let i = 0; i < 3; i++)
      await client.sendMessage(sim.defaultPhoneNumberId, textMessage(`+${to}`, `m${i}`));
    const pacing = (await (await fetch(`${server.url}/_sim/pacing?to=${to}&burst=2`)).json()) as {
      waId: string;
      acceptedAt: number[];
      overLimitAt: number[];
      ok: boolean;
    }[];
    expect(pacing).toHaveLength(1);
    expect(pacing[0]?.waId).toBe(to);
    expect(pacing[0]?.acceptedAt).toHaveLength(3);
    expect(pacing[0]?.overLimitAt).toHaveLength(1);
    expect(pacing[0]?.ok).toBe(false);
    const stats = (await (await fetch(`${server.url}/_sim/stats`)).json()) as {
      accepted: number;
      maxAcceptedInAnySecond: number;
    }[];
    expect(stats[0]?.accepted).toBe(3);
    expect(stats[0]?.maxAcceptedInAnySecond).toBeGreaterThanOrEqual(1);
    expect(stats[0]?.maxAcceptedInAnySecond).toBeLessThanOrEqual(3);
  });

  it("holds an accepted send's answer back for a scripted delay", async () => {
    const to = "16505559877";
    const res = await fetch(`${server.url}/_sim/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ script: [{ kind: "delay", ms: 400 }], endpoint: "messages" }),
    });
    expect(res.status).toBe(200);
    const started = Date.now();
    const sending = client.sendMessage(sim.defaultPhoneNumberId, textMessage(`+${to}`, "slow"));
    await waitFor(() => (sim.received(to).length === 1 ? true : undefined));
    const acceptedAfter = Date.now() - started;
    await sending;
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(acceptedAfter).toBeLessThan(380);
  });
});

describe("the CLI's manual clock over HTTP", () => {
  const noFile = (): string => {
    throw new Error("no config file");
  };

  it("--manual-clock: time moves only by POST /_sim/clock/advance, and statuses follow it", async () => {
    const config = parseCli(["--manual-clock", "--no-webhooks"], {}, noFile);
    expect(config.manualClock).toBe(true);
    const start = Date.UTC(2026, 5, 1);
    const sim = simulatorFor(config, start);
    const server = await serveSimulator(sim, { port: 0 });
    try {
      const control = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${server.url}/_sim/${path}`, {
          method,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      };
      expect((await control("GET", "clock")).json).toEqual({ now: start, manual: true });
      await control("POST", `users/${USER}/messages`, { content: { type: "text", body: "hi" } });
      const send = await fetch(`${server.url}/v23.0/${sim.defaultPhoneNumberId}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${sim.accessToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          messaging_product: "whatsapp",
          to: USER,
          type: "text",
          text: { body: "x" },
        }),
      });
      expect(send.status).toBe(200);
      expect(sim.received(USER)[0]?.statuses).toEqual([]);
      const advanced = await control("POST", "clock/advance", { ms: 60_000 });
      expect(advanced).toEqual({ status: 200, json: { now: start + 60_000 } });
      expect(sim.received(USER)[0]?.statuses.map((s) => s.status)).toContain("sent");
      expect((await control("POST", "clock/advance", { ms: -1 })).status).toBe(400);
    } finally {
      await server.close();
      await sim.stop();
    }
  });

  it("without it the system clock runs and advancing is refused with the flag to use", async () => {
    const sim = simulatorFor(parseCli(["--no-webhooks"], {}, noFile));
    const server = await serveSimulator(sim, { port: 0 });
    try {
      const res = await fetch(`${server.url}/_sim/clock/advance`, {
        method: "POST",
        body: JSON.stringify({ ms: 1_000 }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toContain("--manual-clock");
    } finally {
      await server.close();
      await sim.stop();
    }
  });
});
