import { logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import { kafkaLogLevel } from "./connection.js";

describe("kafkaLogLevel", () => {
  it("keeps a retried coordinator or leader answer out of the error log", () => {
    for (const error of [
      "The coordinator is loading and hence can't process requests for this group",
      "The group coordinator is not available",
      "There is no leader for this topic-partition as we are in the middle of a leadership election",
      "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
    ]) {
      expect(
        kafkaLogLevel("Connection", logLevel.ERROR, {
          message: "Response InitProducerId(key: 22, version: 1)",
          error,
        }),
      ).toBe("debug");
    }
  });

  it("calls a consumer crash on a transient answer a warning, and its restart information", () => {
    expect(
      kafkaLogLevel("Consumer", logLevel.ERROR, {
        message:
          "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group",
      }),
    ).toBe("warn");
    expect(
      kafkaLogLevel("Consumer", logLevel.ERROR, { message: "Restarting the consumer in 300ms" }),
    ).toBe("info");
  });

  it("calls one attempt of a request kafkajs retries a warning", () => {
    for (const [namespace, message] of [
      ["Connection", "Connection error: read ECONNRESET"],
      ["Connection", "Connection error: connect ECONNREFUSED 127.0.0.1:9092"],
      ["Connection", "Connection timeout"],
      ["Connection", "Request Produce(key: 0, version: 7) timed out"],
      ["Producer", "Failed to send messages: Connection error: read ECONNRESET"],
    ] as const) {
      expect(kafkaLogLevel(namespace, logLevel.ERROR, { message }), message).toBe("warn");
    }
    // The producer's other line is written for errors it does not retry too: still an error.
    expect(
      kafkaLogLevel("Producer", logLevel.ERROR, {
        message: "The request included a message larger",
      }),
    ).toBe("error");
  });

  it("keeps every other error an error, and other levels as they are", () => {
    expect(
      kafkaLogLevel("Connection", logLevel.ERROR, {
        message: "Response Produce(key: 0, version: 7)",
        error:
          "The request included a message larger than the max message size the server will accept",
      }),
    ).toBe("error");
    expect(kafkaLogLevel("Consumer", logLevel.ERROR, { message: "Crash: x" })).toBe("error");
    expect(kafkaLogLevel("Consumer", logLevel.WARN, { message: "w" })).toBe("warn");
    expect(kafkaLogLevel("Consumer", logLevel.INFO, { message: "i" })).toBe("info");
    expect(
      kafkaLogLevel("Producer", logLevel.WARN, {
        message: "Limiting retries for the idempotent producer may invalidate EoS guarantees",
      }),
    ).toBe("debug");
  });
});
