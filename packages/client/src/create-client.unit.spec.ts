import { describe, expect, it } from "vitest";
import { checkClientOptions, createParleyClient } from "./create-client.js";
import { InvalidClientOptionsError } from "./errors.js";

const good = {
  brokers: "127.0.0.1:9092",
  schemaRegistryUrl: "http://127.0.0.1:8081",
  clientId: "orders",
};

describe("createParleyClient options", () => {
  it("accepts brokers as a list or as KAFKA_BROKERS' comma-separated form, and connects nothing yet", async () => {
    expect(checkClientOptions({ ...good, brokers: " a:9092, b:9093 ,," }).brokers).toEqual([
      "a:9092",
      "b:9093",
    ]);
    expect(checkClientOptions({ ...good, brokers: ["kafka-1:9092"] }).brokers).toEqual([
      "kafka-1:9092",
    ]);
    expect(
      checkClientOptions({ ...good, prefix: "t-1." }).catalog.topic("send-requests").name,
    ).toBe("t-1.parley.send-requests");
    const client = createParleyClient(good);
    await client.close();
  });

  it("refuses impossible options at construction, listing every problem with its fix", () => {
    let error: unknown;
    try {
      createParleyClient({
        brokers: ["kafka://broker:9092", "broker"],
        schemaRegistryUrl: "localhost:8081",
        clientId: " ",
        prefix: "bad prefix!",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidClientOptionsError);
    const { problems, retriable, message } = error as InvalidClientOptionsError;
    expect(retriable).toBe(false);
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(
      /"kafka:\/\/broker:9092" is not host:port; write e\.g\. "kafka-1:9092"/,
    );
    expect(problems[1]).toMatch(/"broker" is not host:port/);
    expect(problems[2]).toMatch(
      /schemaRegistryUrl "localhost:8081" is not an http\(s\) URL; write e\.g\./,
    );
    expect(problems[3]).toMatch(/clientId is empty: name your service/);
    expect(problems[4]).toMatch(/prefix: .*may only contain/);
    for (const p of problems) expect(message).toContain(p);
  });

  it("refuses an empty broker list", () => {
    expect(() => createParleyClient({ ...good, brokers: "" })).toThrow(/brokers is empty/);
    expect(() => createParleyClient({ ...good, brokers: [] })).toThrow(/brokers is empty/);
    expect(() => createParleyClient({ ...good, brokers: ["127.0.0.1:99999"] })).toThrow(
      /not host:port/,
    );
  });
});
