import { isOutage, retryOf } from "@parley/errors";
import {
  BSON,
  MongoBulkWriteError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
} from "mongodb";
import { describe, expect, it } from "vitest";
import { guardStore, mongoRetryOf, StoreError } from "./index.js";

const serverError = (code: number, labels: string[] = []) => {
  const error = new MongoServerError({ message: `code ${code}`, code, errorLabels: labels });
  return error;
};

describe("mongoRetryOf", () => {
  it("calls an unreachable or stepping-down server an outage", () => {
    expect(mongoRetryOf(new MongoNetworkError("connection reset"))).toBe("outage");
    // The driver reads the topology description only for its `error`.
    const topology = { error: undefined } as unknown as ConstructorParameters<
      typeof MongoServerSelectionError
    >[1];
    expect(mongoRetryOf(new MongoServerSelectionError("no server", topology))).toBe("outage");
    expect(mongoRetryOf(serverError(91))).toBe("outage");
    expect(mongoRetryOf(serverError(10107))).toBe("outage");
    expect(mongoRetryOf(serverError(2, ["RetryableWriteError"]))).toBe("outage");
  });

  it("sees an outage through a bulk write's wrapper (bulkWrite wraps its round trip's driver errors)", () => {
    // What `collection.bulkWrite` throws when the driver interrupts its connection (the chaos
    // run's "Connection to ... interrupted due to server monitor timeout", issue 26): the wrapper
    // copies the network error's fields, not its class. bulk-write-outage.int.spec.ts does it for real.
    const interrupted = new MongoNetworkError("Connection to 127.0.0.1:1 interrupted");
    interrupted.addErrorLabel("PoolRequstedRetry");
    const result = undefined as unknown as ConstructorParameters<typeof MongoBulkWriteError>[1];
    const wrapped = new MongoBulkWriteError(interrupted, result);
    expect(wrapped).not.toBeInstanceOf(MongoNetworkError);
    expect(mongoRetryOf(wrapped)).toBe("outage");
    expect(mongoRetryOf(new MongoBulkWriteError(new MongoNetworkError("closed"), result))).toBe(
      "outage",
    );
    // A write the server refused (duplicate key) stays final.
    const refused = new MongoBulkWriteError(
      { message: "E11000 duplicate key", code: 11000, writeErrors: [] },
      result,
    );
    expect(mongoRetryOf(refused)).toBe("never");
  });

  it("never retries what the request itself caused", () => {
    expect(mongoRetryOf(serverError(11000))).toBe("never"); // duplicate key
    expect(mongoRetryOf(serverError(10334))).toBe("never"); // BSONObjectTooLarge
    expect(mongoRetryOf(serverError(15))).toBe("never"); // nesting depth
    expect(mongoRetryOf(new BSON.BSONError("cannot serialize"))).toBe("never");
    expect(mongoRetryOf(new RangeError("Maximum call stack size exceeded"))).toBe("never");
    expect(mongoRetryOf(new TypeError("x is undefined"))).toBe("never");
  });
});

describe("guardStore", () => {
  it("passes results through", async () => {
    await expect(guardStore("contacts", "load", () => Promise.resolve(3))).resolves.toBe(3);
  });

  it("wraps failures in a StoreError that keeps the decision and the cause", async () => {
    const outage = await guardStore("contacts", "save", () =>
      Promise.reject(new MongoNetworkError("connection reset")),
    ).catch((e: unknown) => e);
    expect(outage).toBeInstanceOf(StoreError);
    expect(isOutage(outage)).toBe(true);
    expect((outage as StoreError).message).toBe("contacts save failed: connection reset");

    const poison = await guardStore("contacts", "save", () =>
      Promise.reject(new RangeError("Maximum call stack size exceeded")),
    ).catch((e: unknown) => e);
    expect(retryOf(poison)).toBe("never");
    expect((poison as StoreError).cause).toBeInstanceOf(RangeError);
  });
});
