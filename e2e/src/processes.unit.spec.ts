import { afterEach, describe, expect, it } from "vitest";
import { infraErrors, ownBroker } from "./processes.js";

const stderr =
  "[infra] starting kafka 4.1.1 on 127.0.0.1:29092\n" +
  "[infra] error: kafka cannot start: 127.0.0.1:29092 is already in use by python3 (pid 4242). " +
  "Stop that process or choose another port, e.g. KAFKA_PORT=39092\n";

describe("infraErrors", () => {
  it("keeps infra.sh's error lines only, as they are without variables", () => {
    expect(infraErrors(stderr)).toEqual([
      "[infra] error: kafka cannot start: 127.0.0.1:29092 is already in use by python3 (pid 4242). " +
        "Stop that process or choose another port, e.g. KAFKA_PORT=39092",
    ]);
  });

  it("names the caller's own variable in a suggested setting", () => {
    const [line] = infraErrors(stderr, { KAFKA_PORT: "E2E_KAFKA_PORT" });
    expect(line).toMatch(/e\.g\. E2E_KAFKA_PORT=39092$/);
    expect(line).toContain("127.0.0.1:29092 is already in use");
  });
});

describe("ownBroker", () => {
  afterEach(() => {
    delete process.env["UNIT_KAFKA_PORT"];
    delete process.env["UNIT_KAFKA_CONTROLLER_PORT"];
  });

  it("uses the default ports unless the spec's own variables are set", () => {
    expect(ownBroker("unit-profile", "UNIT_", 29500)).toEqual({
      env: { PARLEY_PROFILE: "unit-profile", KAFKA_PORT: "29500", KAFKA_CONTROLLER_PORT: "29501" },
      brokers: ["127.0.0.1:29500"],
      variables: {
        KAFKA_PORT: "UNIT_KAFKA_PORT",
        KAFKA_CONTROLLER_PORT: "UNIT_KAFKA_CONTROLLER_PORT",
      },
    });
    process.env["UNIT_KAFKA_PORT"] = "39500";
    process.env["UNIT_KAFKA_CONTROLLER_PORT"] = "39501";
    const moved = ownBroker("unit-profile", "UNIT_", 29500);
    expect(moved.env).toMatchObject({ KAFKA_PORT: "39500", KAFKA_CONTROLLER_PORT: "39501" });
    expect(moved.brokers).toEqual(["127.0.0.1:39500"]);
  });
});
