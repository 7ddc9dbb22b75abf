import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createKafka, createKafkaProbe, type KafkaSecurity } from "@parley/kafka";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addOrderUpdateTemplate, startPathStack, type PathStack } from "./path-stack.js";
import { freePort, infra, repoRoot, serviceEnv, startService, stopService } from "./processes.js";

// Issue 28: Parley against a Kafka that authenticates and encrypts as managed clusters do. The
// opt-in broker of infra.sh (kafka-secure) takes clients over SASL_SSL only: SCRAM-SHA-512 over
// TLS with a CA the script generated. It is started once for this file. A send goes through the
// router and the sender (processes) on it; the other mechanisms connect; a wrong password and an
// untrusted certificate each stop a service at start within seconds, exit 78, naming the setting.
const WABA = "102290129340381";
const NUMBER = "106540352242981";
const GRAPH_TOKEN = "e2e-secure-graph-token";
const OPS_TOKEN = "e2e-secure-ops-token";
const NUMBERS = JSON.stringify({
  numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, aliases: ["secure"], accessToken: GRAPH_TOKEN }],
});
/**
 * From the service's first log line (its ops endpoints up, Node and its modules loaded) to its
 * exit: a refused password or certificate must end the start within this. Without the access
 * check kafkajs retries the certificate for minutes and the process never exits by itself.
 */
const FAIL_FAST_MS = 5_000;

/** Milliseconds between the first log line and the `exit` line of a service's JSON log. */
const startToExitMs = (log: string): number => {
  const times = log
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { time: string; msg: string });
  const first = times[0];
  const exit = times.find((entry) => entry.msg.endsWith(": exit"));
  if (first === undefined || exit === undefined) return Number.POSITIVE_INFINITY;
  return Date.parse(exit.time) - Date.parse(first.time);
};

const stateDir = join(repoRoot, ".parley", "e2e-secure");
const tlsDir = join(stateDir, "kafka-secure-tls");
let infraEnv: Record<string, string> = {};
let brokers: string[] = [];
let password = "";
let secureEnv: Record<string, string> = {};
let parley: PathStack | undefined;

const read = (file: string) => readFileSync(join(tlsDir, file), "utf8");

beforeAll(async () => {
  const port = process.env["SECURE_KAFKA_PORT"] ?? String(await freePort());
  infraEnv = {
    PARLEY_STATE_DIR: stateDir,
    KAFKA_SECURE_PORT: port,
    KAFKA_SECURE_CONTROLLER_PORT:
      process.env["SECURE_KAFKA_CONTROLLER_PORT"] ?? String(await freePort()),
  };
  await infra(["start", "kafka-secure"], infraEnv, {
    KAFKA_SECURE_PORT: "SECURE_KAFKA_PORT",
    KAFKA_SECURE_CONTROLLER_PORT: "SECURE_KAFKA_CONTROLLER_PORT",
  });
  brokers = [`127.0.0.1:${port}`];
  password = read("parley-password").trim();
  // What an operator sets (infra.sh env-secure prints the same): secrets and the CA from files.
  secureEnv = {
    KAFKA_BROKERS: brokers.join(","),
    KAFKA_TLS: "true",
    KAFKA_TLS_CA_FILE: join(tlsDir, "ca.pem"),
    KAFKA_SASL_MECHANISM: "scram-sha-512",
    KAFKA_SASL_USERNAME: "parley",
    KAFKA_SASL_PASSWORD_FILE: join(tlsDir, "parley-password"),
  };
  const security: KafkaSecurity = {
    tls: { ca: read("ca.pem") },
    sasl: { mechanism: "scram-sha-512", username: "parley", password },
  };
  parley = await startPathStack({
    name: "secure-kafka",
    opsToken: OPS_TOKEN,
    appSecret: "e2e-secure-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: NUMBERS,
    simulator: {
      seed: "e2e-secure-kafka",
      businesses: [
        { wabaId: WABA, phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100981" }] },
      ],
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
    },
    read: ["send-outcomes"],
    servers: { kafka: { brokers, security, env: secureEnv } },
  });
  addOrderUpdateTemplate(parley.sim, WABA);
}, 420_000);

afterAll(async () => {
  await parley?.stop();
  await infra(["stop", "kafka-secure"], infraEnv);
}, 120_000);

describe("services on a SCRAM-SHA-512 over TLS broker", () => {
  it("a send request goes through the router and the sender to Graph, and its outcome comes back", async () => {
    const stack = parley as PathStack;
    await Promise.all([stack.start("router"), stack.start("sender")]);
    const { requestId } = await stack.client.requestSend({
      idempotencyKey: "secure-send-1",
      recipient: { phone: "+15550102981" },
      sender: { kind: "businessNumber", phoneNumberId: NUMBER },
      content: {
        type: "template",
        template: {
          name: "order_update",
          language: { code: "en_US" },
          components: [{ type: "body", parameters: [{ type: "text", text: "A-981" }] }],
        },
      },
      category: "utility",
    });
    await waitFor(
      () => stack.seen.some((e) => e.correlationId === requestId && e.type === "SendAccepted"),
      { timeoutMs: 90_000, description: "SendAccepted over the secure broker" },
    );
    expect(stack.sim.received("15550102981")).toHaveLength(1);
  }, 180_000);
});

describe("the other client settings against the same broker", () => {
  const connect = async (security: KafkaSecurity) => {
    const kafka = createKafka({ brokers, clientId: "e2e-secure-mechanisms", security });
    const probe = createKafkaProbe(kafka);
    try {
      return (await probe.describe()).clusterId;
    } finally {
      await probe.close();
    }
  };

  it("SCRAM-SHA-256, PLAIN, a client certificate (mTLS) and an OAUTHBEARER token file connect", async () => {
    const tls = { ca: read("ca.pem") };
    const user = { username: "parley", password };
    const scram512 = await connect({ tls, sasl: { mechanism: "scram-sha-512", ...user } });
    expect(await connect({ tls, sasl: { mechanism: "scram-sha-256", ...user } })).toBe(scram512);
    expect(await connect({ tls, sasl: { mechanism: "plain", ...user } })).toBe(scram512);
    const mtls = { ...tls, cert: read("client.pem"), key: read("client.key") };
    expect(await connect({ tls: mtls, sasl: { mechanism: "scram-sha-512", ...user } })).toBe(
      scram512,
    );
    // The broker's test listener accepts unsigned JWTs; a real one checks them against its IdP.
    const tokenPath = join(stateDir, "oauth-token");
    const claims = { sub: "parley", iat: Math.floor(Date.now() / 1000), exp: 4_102_444_800 };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    writeFileSync(tokenPath, `${b64({ alg: "none" })}.${b64(claims)}.\n`);
    expect(
      await connect({
        tls,
        sasl: { mechanism: "oauthbearer", token: { kind: "file", path: tokenPath } },
      }),
    ).toBe(scram512);
  }, 60_000);
});

// Both starts at once: each is a process of its own, and the file's wall time counts in make test.
describe.concurrent("fail fast at start", () => {
  /** Starts the router with the secure settings and `own` on top, without one of them. */
  const startRouter = async (own: Record<string, string>, without: string) => {
    const stack = parley as PathStack;
    const env = serviceEnv(
      stack.stack,
      { database: stack.ns.database(), topicPrefix: stack.catalog.prefix, opsToken: OPS_TOKEN },
      { PARLEY_NUMBERS: NUMBERS, ...secureEnv, ...own },
    );
    Reflect.deleteProperty(env, without);
    const logDir = join(stateDir, "logs", stack.ns.id);
    const instance = `router-${without.toLowerCase()}`;
    const service = startService("router", await freePort(), env, logDir, instance);
    const timer = setTimeout(() => void stopService(service, "SIGKILL"), 60_000);
    const code = await service.exited;
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, 50)); // the log stream's last write
    const log = readFileSync(join(logDir, `${instance}.log`), "utf8");
    return { code, elapsedMs: startToExitMs(log), log };
  };

  it("a wrong password: exit 78 within seconds, naming KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD", async ({
    expect,
  }) => {
    const result = await startRouter(
      { KAFKA_SASL_PASSWORD: "not-the-password-0123" },
      "KAFKA_SASL_PASSWORD_FILE",
    );
    expect(result.code).toBe(78);
    expect(result.elapsedMs).toBeLessThan(FAIL_FAST_MS);
    expect(result.log).toContain(
      "KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: the broker refused them",
    );
    expect(result.log).not.toContain("not-the-password-0123");
  }, 90_000);

  it("a certificate signed by a CA it was not given: exit 78 within seconds, naming KAFKA_TLS_CA", async ({
    expect,
  }) => {
    const result = await startRouter(
      { KAFKA_TLS_CA: read("other-ca.pem").trim() },
      "KAFKA_TLS_CA_FILE",
    );
    expect(result.code).toBe(78);
    expect(result.elapsedMs).toBeLessThan(FAIL_FAST_MS);
    expect(result.log).toMatch(/KAFKA_TLS_CA: the server's certificate is not trusted \([A-Z_]+\)/);
  }, 90_000);
});
