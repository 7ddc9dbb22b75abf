import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chassisFields, infraFields, loadConfig } from "@parley/config";
import { startStack, type Stack } from "@parley/testkit";
import { runStandardService, type RunningService } from "./index.js";

const OPS_TOKEN = "mongo-commands-ops-token";

/** A service on the chassis that uses MongoDB and reads one document a scrape. */
async function start(stack: Stack, database: string, commandMetrics: string | undefined) {
  const config = loadConfig(z.object({ ...infraFields, ...chassisFields }), {
    service: "mongo-commands-spec",
    env: {
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      MONGO_URL: stack.mongoUrl,
      MONGO_DB: database,
      OPS_TOKEN,
      HTTP_PORT: "0",
      LOG_LEVEL: "error",
      ...(commandMetrics === undefined ? {} : { MONGO_COMMAND_METRICS: commandMetrics }),
    },
  });
  let read: (() => Promise<unknown>) | undefined;
  const service = await runStandardService({
    name: "mongo-commands-spec",
    config,
    telemetry: { tracesEndpoint: undefined, shutdown: () => Promise.resolve() },
    uses: { kafka: false, registry: false, mongo: true },
    // Stopped by the test: no exit, no signal handlers of the test process.
    exit: () => undefined,
    processEvents: { on: () => process, off: () => process },
    start: ({ mongo }) => {
      read = () => mongo.db.collection("things").find({}).toArray();
      return Promise.resolve({});
    },
  });
  return { service, read: () => read?.() };
}

async function exposition(service: RunningService): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${String(service.opsPort)}/metrics`, {
    headers: { authorization: `Bearer ${OPS_TOKEN}` },
  });
  return response.text();
}

const findCount = (text: string): number | undefined => {
  const line = text
    .split("\n")
    .find((l) => l.startsWith("parley_mongo_commands_total{") && l.includes('command="find"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
};

describe("the chassis's MongoDB command counter (real MongoDB-wire server)", () => {
  let stack: Stack;
  const running: RunningService[] = [];

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    for (const service of running) await service.shutdown("test over");
    await stack.stop();
  });

  it("counts commands by name only with MONGO_COMMAND_METRICS=true (monitoring decodes every reply twice)", async () => {
    const ns = stack.namespace("mongo-commands");
    const off = await start(stack, `${ns.id}-off`, undefined);
    running.push(off.service);
    const on = await start(stack, `${ns.id}-on`, "true");
    running.push(on.service);
    for (let i = 0; i < 3; i++) {
      await off.read();
      await on.read();
    }
    const offText = await exposition(off.service);
    expect(offText).toContain("parley_"); // the exposition answers, with the chassis's series
    expect(offText).not.toContain("parley_mongo_commands_total");
    expect(findCount(await exposition(on.service))).toBe(3);
  });

  it("refuses a value that is not a boolean, naming the variable", () => {
    expect(() =>
      loadConfig(z.object({ ...chassisFields }), {
        service: "mongo-commands-spec",
        env: { OPS_TOKEN, MONGO_COMMAND_METRICS: "sometimes" },
      }),
    ).toThrow(/MONGO_COMMAND_METRICS/);
  });
});
