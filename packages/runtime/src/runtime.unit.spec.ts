import { EventEmitter } from "node:events";
import { createKafkaHealth } from "@parley/kafka";
import { afterEach, describe, expect, it } from "vitest";
import { startOpsServer, type OpsServer } from "./ops-server.js";
import {
  readinessOf,
  runReadiness,
  type ComponentStatus,
  type LifePhase,
  type ReadinessCheck,
} from "./readiness.js";
import { runService, type ChassisLogger, type RunningService } from "./run-service.js";

const TOKEN = "ops-token-for-tests";
const auth = { authorization: `Bearer ${TOKEN}` };
const ok: ReadinessCheck = { name: "ok", check: () => Promise.resolve() };
const failing: ReadinessCheck = {
  name: "kafka",
  check: () => Promise.reject(new Error("connection refused")),
};
const hanging: ReadinessCheck = { name: "mongodb", check: () => new Promise(() => undefined) };

const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
const logger: ChassisLogger = Object.fromEntries(
  ["info", "warn", "error", "fatal"].map((level) => [
    level,
    (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message }),
  ]),
) as unknown as ChassisLogger;

const servers: OpsServer[] = [];
const running: RunningService[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const r of running.splice(0)) await r.shutdown("test over");
  lines.length = 0;
});

async function ops(
  checks: readonly ReadinessCheck[],
  phase: LifePhase = "running",
  components: readonly ComponentStatus[] = [],
): Promise<string> {
  const server = await startOpsServer({
    service: "t",
    host: "127.0.0.1",
    port: 0,
    token: TOKEN,
    checks,
    sources: [() => components],
    readinessTimeoutMs: 100,
    metrics: () => Promise.resolve("parley_up 1\n"),
    phase: () => phase,
  });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

describe("ops endpoints", () => {
  it("require the bearer token on every path", async () => {
    const url = await ops([ok]);
    for (const path of ["/healthz", "/readyz", "/metrics", "/anything"]) {
      const none = await fetch(url + path);
      expect(none.status).toBe(401);
      expect(none.headers.get("content-type")).toContain("application/problem+json");
      expect((await fetch(url + path, { headers: { authorization: "Bearer wrong" } })).status).toBe(
        401,
      );
    }
    expect((await fetch(`${url}/healthz`, { headers: auth })).status).toBe(200);
  });

  it("/readyz answers 200 when every check passes and 503 naming the failing one", async () => {
    expect((await fetch(`${await ops([ok])}/readyz`, { headers: auth })).status).toBe(200);
    const res = await fetch(`${await ops([ok, failing])}/readyz`, { headers: auth });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: { name: string; ok: boolean; error?: string }[] };
    expect(body.checks).toContainEqual(
      expect.objectContaining({ name: "kafka", ok: false, error: "connection refused" }),
    );
  });

  it("/readyz is bounded by the timeout when a dependency hangs", async () => {
    const res = await fetch(`${await ops([hanging])}/readyz`, { headers: auth });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("no answer within 100 ms");
  });

  it("/readyz answers 503 once shutdown has begun", async () => {
    expect((await fetch(`${await ops([ok], "stopping")}/readyz`, { headers: auth })).status).toBe(
      503,
    );
  });

  it("/metrics serves the Prometheus text", async () => {
    const res = await fetch(`${await ops([ok])}/metrics`, { headers: auth });
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(await res.text()).toBe("parley_up 1\n");
  });
});

interface ReadyBody {
  status: string;
  reasons: string[];
  checks: { name: string; ok: boolean }[];
  components: ComponentStatus[];
}
const readyz = async (url: string): Promise<{ code: number; body: ReadyBody }> => {
  const res = await fetch(`${url}/readyz`, { headers: auth });
  return { code: res.status, body: (await res.json()) as ReadyBody };
};

describe("/readyz states", () => {
  const joining: ComponentStatus = {
    name: "consumer parley.router-inbound",
    state: "starting",
    reason: "joining its group",
  };
  const producerFailing: ComponentStatus = {
    name: "producer router-inbound",
    state: "failing",
    reason: "gave up: produce failed (KafkaJSConnectionError): connect ECONNREFUSED",
  };

  it("starting, while the components start: 503 with what it is doing", async () => {
    const { code, body } = await readyz(await ops([ok], "starting"));
    expect(code).toBe(503);
    expect(body.status).toBe("starting");
    expect(body.reasons[0]).toMatch(/connecting to its dependencies/);
  });

  it("starting, while a consumer is still joining its group: 503 naming it", async () => {
    const { code, body } = await readyz(await ops([ok], "running", [joining]));
    expect(code).toBe(503);
    expect(body).toMatchObject({
      status: "starting",
      reasons: ["consumer parley.router-inbound: joining its group"],
    });
  });

  it("ready: 200 once every check passes and every component works", async () => {
    const { code, body } = await readyz(
      await ops([ok], "running", [{ name: joining.name, state: "ok" }]),
    );
    expect(code).toBe(200);
    expect(body).toMatchObject({ status: "ready", reasons: [] });
  });

  it("degraded, a dependency down: 503 naming the check and why", async () => {
    const { code, body } = await readyz(await ops([ok, failing], "running", [joining]));
    expect(code).toBe(503);
    expect(body.status).toBe("degraded");
    expect(body.reasons).toEqual([
      "kafka: connection refused",
      "consumer parley.router-inbound: joining its group",
    ]);
  });

  it("degraded, a producer that could not recover: 503 naming it and the error", async () => {
    const { code, body } = await readyz(await ops([ok], "running", [producerFailing]));
    expect(code).toBe(503);
    expect(body.status).toBe("degraded");
    expect(body.reasons).toEqual([`producer router-inbound: ${producerFailing.reason ?? ""}`]);
    expect(body.components).toEqual([producerFailing]);
  });

  it("shutting-down, once shutdown has begun: 503 without probing anything", async () => {
    let probed = 0;
    const counted: ReadinessCheck = {
      name: "kafka",
      check: () => {
        probed++;
        return Promise.resolve();
      },
    };
    const { code, body } = await readyz(await ops([counted], "stopping"));
    expect(code).toBe(503);
    expect(body.status).toBe("shutting-down");
    expect(probed).toBe(0);
  });

  it("ranks a failure above a component still starting once running, never while starting", () => {
    const down = { name: "kafka", ok: false, latencyMs: 1, error: "down" };
    expect(readinessOf("running", [down], [joining]).state).toBe("degraded");
    expect(readinessOf("starting", [down], []).state).toBe("starting");
    expect(readinessOf("stopping", [down], [producerFailing]).state).toBe("shutting-down");
  });
});

describe("runReadiness", () => {
  it("runs checks concurrently", async () => {
    const slow = (name: string): ReadinessCheck => ({
      name,
      check: () => new Promise((r) => setTimeout(r, 60)),
    });
    const started = Date.now();
    const report = await runReadiness([slow("a"), slow("b"), slow("c")], 1_000);
    expect(report.ready).toBe(true);
    expect(Date.now() - started).toBeLessThan(170);
  });
});

function harness() {
  const events = new EventEmitter();
  const exits: number[] = [];
  const stopped: string[] = [];
  const component = (name: string, ms = 0) => ({
    name,
    stop: () =>
      new Promise<void>((r) =>
        setTimeout(() => {
          stopped.push(name);
          r();
        }, ms),
      ),
  });
  const base = {
    name: "svc",
    logger,
    ops: { host: "127.0.0.1", port: 0, token: TOKEN, readinessTimeoutMs: 100 },
    shutdownTimeoutMs: 200,
    metrics: () => Promise.resolve(""),
    exit: (code: number) => exits.push(code),
    processEvents: events as unknown as Pick<NodeJS.Process, "on" | "off">,
  };
  return {
    events,
    exits,
    stopped,
    component,
    base,
    // The ops port, read from the chassis's "ops endpoints listening" line.
    port: () =>
      Number(lines.find((l) => l.message.includes("ops endpoints listening"))?.fields["port"]),
  };
}

/** Waits until the harness's chassis logged its ops port. */
async function waitForPort(h: ReturnType<typeof harness>): Promise<void> {
  for (let i = 0; i < 200 && Number.isNaN(h.port()); i++)
    await new Promise((r) => setTimeout(r, 5));
}

describe("runService", () => {
  it("on SIGTERM stops components in reverse start order, then telemetry, and exits 0", async () => {
    const h = harness();
    let telemetryFlushed = false;
    const service = await runService({
      ...h.base,
      telemetry: { shutdown: () => Promise.resolve(void (telemetryFlushed = true)) },
      start: () =>
        Promise.resolve({
          checks: [ok],
          components: [h.component("connection"), h.component("producer"), h.component("consumer")],
        }),
    });
    const url = `http://127.0.0.1:${service.opsPort}`;
    expect((await fetch(`${url}/readyz`, { headers: auth })).status).toBe(200);
    h.events.emit("SIGTERM", "SIGTERM");
    expect(await service.exited).toBe(0);
    expect(h.stopped).toEqual(["consumer", "producer", "connection"]);
    expect(telemetryFlushed).toBe(true);
    expect(h.exits).toEqual([0]);
    await expect(fetch(`${url}/healthz`, { headers: auth })).rejects.toThrow();
  });

  it("says starting while start-up runs (not shutting-down), ready after, shutting-down during shutdown", async () => {
    const h = harness();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let joined = false;
    const runningService = runService({
      ...h.base,
      shutdownTimeoutMs: 2_000,
      start: async (context) => {
        // Known from the start: a consumer reporting itself (as the Kafka client's health does).
        context.report(() => [
          joined
            ? { name: "consumer g", state: "ok" }
            : { name: "consumer g", state: "starting", reason: "joining its group" },
        ]);
        await gate;
        return { checks: [ok], components: [h.component("consumer", 300)] };
      },
    });
    await waitForPort(h);
    const url = `http://127.0.0.1:${String(h.port())}`;
    let now = await readyz(url);
    expect([now.code, now.body.status]).toEqual([503, "starting"]);
    expect(now.body.reasons).toContain("consumer g: joining its group");
    release();
    const service = await runningService;
    now = await readyz(url);
    expect([now.code, now.body.status]).toEqual([503, "starting"]);
    joined = true;
    now = await readyz(url);
    expect([now.code, now.body.status]).toEqual([200, "ready"]);
    h.events.emit("SIGTERM", "SIGTERM");
    now = await readyz(url);
    expect([now.code, now.body.status]).toEqual([503, "shutting-down"]);
    expect(await service.exited).toBe(0);
  });

  it("follows a Kafka client's health as the chassis wires it: joining, ready, a producer failing, recovered", async () => {
    const h = harness();
    const health = createKafkaHealth();
    const service = await runService({
      ...h.base,
      start: (context) => {
        // As runStandardService does with the client it creates.
        context.report(() => health.entries());
        return Promise.resolve({ checks: [ok], components: [] });
      },
    });
    running.push(service);
    const url = `http://127.0.0.1:${String(service.opsPort)}`;
    const consumer = health.register(
      "consumer parley.router-inbound",
      "starting",
      "joining its group",
    );
    const producer = health.register("producer router-inbound", "ok");
    expect((await readyz(url)).body.status).toBe("starting");
    consumer.ok();
    expect((await readyz(url)).code).toBe(200);
    producer.failing("gave up: produce failed (KafkaJSConnectionError): connect ECONNREFUSED");
    const degraded = await readyz(url);
    expect([degraded.code, degraded.body.status]).toEqual([503, "degraded"]);
    expect(degraded.body.reasons).toEqual([
      "producer router-inbound: gave up: produce failed (KafkaJSConnectionError): connect ECONNREFUSED",
    ]);
    producer.ok();
    expect((await readyz(url)).code).toBe(200);
  });

  it("exits 1 and names the stuck component when shutdown exceeds its deadline", async () => {
    const h = harness();
    const service = await runService({
      ...h.base,
      start: () =>
        Promise.resolve({
          checks: [],
          components: [h.component("mongodb"), h.component("consumer", 5_000)],
        }),
    });
    h.events.emit("SIGINT", "SIGINT");
    expect(await service.exited).toBe(1);
    expect(lines.find((l) => l.level === "error")?.fields).toEqual({ stuckAt: "consumer" });
  });

  it("a second signal during shutdown exits at once", async () => {
    const h = harness();
    await runService({
      ...h.base,
      start: () => Promise.resolve({ checks: [], components: [h.component("slow", 150)] }),
    });
    h.events.emit("SIGTERM", "SIGTERM");
    h.events.emit("SIGINT", "SIGINT");
    expect(h.exits[0]).toBe(130);
  });

  it("shuts down with exit 1 when start-up fails, and on an uncaught error", async () => {
    const h = harness();
    const failed = await runService({
      ...h.base,
      start: () => Promise.reject(new Error("bad topic config")),
    });
    expect(await failed.exited).toBe(1);
    expect(lines.some((l) => l.level === "fatal" && l.message.includes("could not start"))).toBe(
      true,
    );

    const h2 = harness();
    const service = await runService({
      ...h2.base,
      start: () => Promise.resolve({ checks: [], components: [] }),
    });
    h2.events.emit("uncaughtException", new Error("boom"));
    expect(await service.exited).toBe(1);
  });
});
