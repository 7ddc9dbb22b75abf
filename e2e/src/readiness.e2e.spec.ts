import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Stack } from "@parley/testkit";
import {
  infra,
  ownBroker,
  provision,
  repoRoot,
  startService,
  type ServiceProcess,
} from "./processes.js";

// Must-show of the foundation: every service's /readyz follows the broker's health, without a
// restart. The spec runs its own broker (profile e2e-readiness, own ports) so that killing it
// disturbs no other suite; the registry and MongoDB come from the shared stack.
const SERVICES = ["ingress", "router", "sender", "media", "consent", "projection"] as const;
const TOKEN = "e2e-readiness-ops-token";
const broker = ownBroker("e2e-readiness", "E2E_", 29092);
const kafkaEnv = broker.env;
const basePort = Number(process.env["E2E_SERVICE_BASE_PORT"] ?? "28080");

let stack: Stack;
let services: ServiceProcess[] = [];

const readiness = async (s: ServiceProcess): Promise<number> =>
  (await fetch(`${s.url}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } })).status;

beforeAll(async () => {
  stack = await startStack();
  await infra(["start", "kafka"], kafkaEnv, broker.variables);
  // As make dev does: the services consume and produce catalog topics, which must exist.
  await provision({
    KAFKA_BROKERS: `127.0.0.1:${kafkaEnv.KAFKA_PORT}`,
    SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
  });
  services = SERVICES.map((name, i) =>
    startService(
      name,
      basePort + i,
      {
        KAFKA_BROKERS: `127.0.0.1:${kafkaEnv.KAFKA_PORT}`,
        SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
        MONGO_URL: stack.mongoUrl,
        OPS_TOKEN: TOKEN,
        READINESS_TIMEOUT_MS: "1500",
        LOG_LEVEL: "info",
        // router and sender need a business number; Graph is not called in this test.
        PARLEY_NUMBERS: JSON.stringify({
          numbers: [
            { phoneNumberId: "106540352242922", wabaId: "102290129340398", accessToken: TOKEN },
          ],
        }),
        WA_GRAPH_BASE_URL: "http://127.0.0.1:9",
        // media refuses to start without a key-encryption key (exit 78): a throwaway one.
        ...(name === "media"
          ? {
              MEDIA_KEYS: `k1:${randomBytes(32).toString("base64")}`,
              MEDIA_STORE_DIR: join(repoRoot, ".parley", "e2e-readiness", "media"),
            }
          : {}),
      },
      join(repoRoot, ".parley", "e2e-readiness", "logs"),
    ),
  );
});

afterAll(async () => {
  for (const s of services) s.child.kill("SIGKILL");
  await infra(["stop", "kafka"], kafkaEnv, broker.variables);
  await stack.stop();
});

describe("readiness follows the broker", () => {
  it("every service becomes ready", async () => {
    for (const s of services) {
      await waitFor(async () => (await readiness(s)) === 200, {
        timeoutMs: 120_000,
        description: `${s.name} ready`,
      });
    }
  });

  it("fails on every service within seconds of the broker dying", async () => {
    const pid = Number(
      readFileSync(join(repoRoot, ".parley", "e2e-readiness", "run", "kafka.pid"), "utf8"),
    );
    process.kill(pid, "SIGKILL");
    const killedAt = Date.now();
    await Promise.all(
      services.map((s) =>
        waitFor(async () => (await readiness(s)) === 503, {
          timeoutMs: 10_000,
          description: `${s.name} not ready`,
        }),
      ),
    );
    console.log(
      `[readiness] all ${services.length} services reported 503 within ${Date.now() - killedAt} ms of the broker's death`,
    );
  });

  it("recovers on every service once the broker is back, without a restart", async () => {
    // The broker comes back on its own log, as a restarted production broker does.
    await infra(["start", "kafka"], { ...kafkaEnv, KAFKA_KEEP_DATA: "1" }, broker.variables);
    const backAt = Date.now();
    await Promise.all(
      services.map((s) =>
        waitFor(async () => (await readiness(s)) === 200, {
          timeoutMs: 60_000,
          description: `${s.name} ready again`,
        }),
      ),
    );
    for (const s of services) expect(s.child.exitCode).toBeNull();
    console.log(
      `[readiness] all services ready again within ${Date.now() - backAt} ms of the broker's return`,
    );
  });

  it("each service stops gracefully on SIGTERM with exit code 0", async () => {
    for (const s of services) s.child.kill("SIGTERM");
    const codes = await Promise.all(services.map((s) => s.exited));
    expect(codes).toEqual(SERVICES.map(() => 0));
  });
});
