import { describe, expect, it } from "vitest";
import { createKafkaHealth } from "./health.js";
import { produceRetryOf, RecordTooLargeError, toProduceError } from "./produce-errors.js";

/** kafkajs's shape of an error: a name, a broker error type for protocol errors, a retriable flag. */
const kafkajs = (name: string, type?: string, retriable = true) =>
  Object.assign(new Error(type ?? name), { name, type, retriable });
const exhausted = (cause: Error) =>
  Object.assign(new Error(cause.message), {
    name: "KafkaJSNumberOfRetriesExceeded",
    retriable: false,
    cause,
  });

describe("produceRetryOf", () => {
  it("waits out what is unavailable for now: brokers, leaders, coordinators, replicas, connections, timeouts", () => {
    for (const type of [
      "LEADER_NOT_AVAILABLE",
      "NOT_LEADER_FOR_PARTITION",
      "BROKER_NOT_AVAILABLE",
      "GROUP_COORDINATOR_NOT_AVAILABLE",
      "NOT_ENOUGH_REPLICAS",
      "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
      "REQUEST_TIMED_OUT",
      "OUT_OF_ORDER_SEQUENCE_NUMBER",
    ])
      expect(produceRetryOf(kafkajs("KafkaJSProtocolError", type))).toEqual({
        retry: "outage",
        kafkaError: type,
      });
    for (const name of [
      "KafkaJSConnectionError",
      "KafkaJSConnectionClosedError",
      "KafkaJSRequestTimeoutError",
      "KafkaJSBrokerNotFound",
    ])
      expect(produceRetryOf(kafkajs(name)).retry).toBe("outage");
  });

  it("gives up on what the same produce would meet again: size, invalid records, missing topics, authorisation", () => {
    for (const type of [
      "MESSAGE_TOO_LARGE",
      "RECORD_LIST_TOO_LARGE",
      "INVALID_RECORD",
      "CORRUPT_MESSAGE",
      "UNKNOWN_TOPIC_OR_PARTITION",
      "TOPIC_AUTHORIZATION_FAILED",
      "CLUSTER_AUTHORIZATION_FAILED",
      "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    ])
      expect(produceRetryOf(kafkajs("KafkaJSProtocolError", type, true)).retry).toBe("never");
    expect(produceRetryOf(kafkajs("KafkaJSSASLAuthenticationError", undefined, false)).retry).toBe(
      "never",
    );
  });

  it("looks through kafkajs's retries-exceeded wrapper at the last attempt's error", () => {
    expect(
      produceRetryOf(exhausted(kafkajs("KafkaJSProtocolError", "NOT_ENOUGH_REPLICAS"))),
    ).toEqual({ retry: "outage", kafkaError: "NOT_ENOUGH_REPLICAS" });
    expect(produceRetryOf(exhausted(kafkajs("KafkaJSProtocolError", "MESSAGE_TOO_LARGE")))).toEqual(
      { retry: "never", kafkaError: "MESSAGE_TOO_LARGE" },
    );
  });

  it("counts an unknown retriable error as bounded, anything else as never", () => {
    expect(produceRetryOf(kafkajs("KafkaJSError", "SOMETHING_NEW", true)).retry).toBe("bounded");
    expect(produceRetryOf(new TypeError("x is undefined")).retry).toBe("never");
    expect(produceRetryOf("a string").retry).toBe("never");
  });
});

describe("toProduceError", () => {
  it("keeps the cause, the broker's error type and the context; passes Parley's errors through", () => {
    const cause = kafkajs("KafkaJSProtocolError", "NOT_ENOUGH_REPLICAS");
    const error = toProduceError(cause, { topics: ["t"], records: 3 });
    expect(error).toMatchObject({
      name: "ProduceError",
      retry: "outage",
      kafkaError: "NOT_ENOUGH_REPLICAS",
      context: { topics: ["t"], records: 3, kafkaError: "NOT_ENOUGH_REPLICAS" },
    });
    expect(error.cause).toBe(cause);
    const tooLarge = new RecordTooLargeError({ topic: "t", bytes: 11, limit: 10, eventId: "e" });
    expect(toProduceError(tooLarge, {})).toBe(tooLarge);
    expect(tooLarge).toMatchObject({
      retry: "never",
      context: { topic: "t", bytes: 11, limit: 10, eventId: "e" },
    });
    expect(tooLarge.message).toMatch(/11 bytes .* over the 10-byte limit of t/);
  });
});

describe("createKafkaHealth", () => {
  it("lists what its components report, keeps `since` while a state repeats, forgets removed ones", () => {
    let now = 1_000;
    const health = createKafkaHealth(() => now);
    const producer = health.register("producer p", "starting", "connecting");
    const consumer = health.register("consumer c", "starting", "joining its group");
    expect(health.entries().map((e) => [e.name, e.state, e.reason])).toEqual([
      ["producer p", "starting", "connecting"],
      ["consumer c", "starting", "joining its group"],
    ]);
    now = 2_000;
    producer.failing("broker down");
    now = 3_000;
    producer.failing("broker down");
    expect(health.entries()[0]).toEqual({
      name: "producer p",
      state: "failing",
      reason: "broker down",
      since: 2_000,
    });
    producer.ok();
    expect(health.entries()[0]).toEqual({ name: "producer p", state: "ok", since: 3_000 });
    consumer.remove();
    consumer.ok();
    expect(health.entries().map((e) => e.name)).toEqual(["producer p"]);
  });
});
