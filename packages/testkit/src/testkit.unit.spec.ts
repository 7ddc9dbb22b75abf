import { describe, expect, it } from "vitest";
import { createNamespace } from "./namespace.js";
import { startStack, StackUnavailableError } from "./stack.js";
import { waitFor, WaitForTimeoutError } from "./wait-for.js";

describe("startStack", () => {
  it("uses the servers named by the environment", async () => {
    const stack = await startStack({
      env: {
        KAFKA_BROKERS: "127.0.0.1:1,127.0.0.1:2",
        SCHEMA_REGISTRY_URL: "http://r",
        MONGO_URL: "mongodb://m",
      },
    });
    expect(stack.source).toBe("environment");
    expect(stack.kafkaBrokers).toEqual(["127.0.0.1:1", "127.0.0.1:2"]);
    await stack.stop();
  });

  it("fails with the fix when only some variables are set", async () => {
    await expect(startStack({ env: { KAFKA_BROKERS: "127.0.0.1:1" } })).rejects.toThrow(
      /SCHEMA_REGISTRY_URL, MONGO_URL missing.*infra\/native\/infra\.sh start/s,
    );
    await expect(startStack({ env: { KAFKA_BROKERS: "127.0.0.1:1" } })).rejects.toBeInstanceOf(
      StackUnavailableError,
    );
  });
});

describe("createNamespace", () => {
  it("gives each spec its own names", () => {
    const a = createNamespace("Orders Spec");
    const b = createNamespace("Orders Spec");
    expect(a.id).not.toBe(b.id);
    expect(a.topic("in")).toMatch(/^orders-spec-[0-9a-f]{8}\.in$/);
    expect(a.group("g")).not.toBe(b.group("g"));
    expect(a.database("read.models")).toMatch(/^orders-spec-[0-9a-f]{8}_read_models$/);
    expect(a.database("x".repeat(100)).length).toBeLessThanOrEqual(63);
  });
});

describe("waitFor", () => {
  it("returns the first value that is not undefined or false", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it("keeps polling through errors", async () => {
    let calls = 0;
    await expect(
      waitFor(
        () => {
          if (++calls < 3) throw new Error("not yet");
          return true;
        },
        { intervalMs: 1 },
      ),
    ).resolves.toBe(true);
  });

  it("fails at the deadline with the description and the last error", async () => {
    const attempt = waitFor(
      () => {
        throw new Error("broker down");
      },
      { timeoutMs: 30, intervalMs: 5, description: "3 records on t.in" },
    );
    await expect(attempt).rejects.toBeInstanceOf(WaitForTimeoutError);
    await expect(attempt).rejects.toThrow(
      "waited 30 ms for 3 records on t.in without success; last error: broker down",
    );
  });
});
