import type { Message, TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createProduceBatcher, messageBytes } from "./produce-batcher.js";

interface Request {
  readonly topics: { topic: string; values: string[] }[];
  readonly answer: (error?: Error) => void;
}

/** A broker stand-in that holds each request until the test answers it. */
function heldBroker() {
  const requests: Request[] = [];
  let open = 0;
  let mostOpen = 0;
  const sendBatch = (topicMessages: TopicMessages[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      open++;
      mostOpen = Math.max(mostOpen, open);
      requests.push({
        topics: topicMessages.map((t) => ({
          topic: t.topic,
          values: t.messages.map((m) => String(m.value)),
        })),
        answer: (error) => {
          open--;
          if (error === undefined) resolve();
          else reject(error);
        },
      });
    });
  return { requests, sendBatch, mostOpen: () => mostOpen };
}

const msg = (value: string): Message => ({ key: "k", value });
// A few turns of the event loop: the batcher starts a request one turn after it is due.
const tick = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};
const settled = async (p: Promise<void>): Promise<string> =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );

describe("createProduceBatcher", () => {
  it("sends the calls that waited while a request was out together, in call order, one request at a time", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch);
    const first = batcher.append("a", [msg("a1")]);
    await tick();
    expect(broker.requests).toHaveLength(1);

    const later = [
      batcher.append("a", [msg("a2"), msg("a3")]),
      batcher.append("b", [msg("b1")]),
      batcher.append("a", [msg("a4")]),
    ];
    await tick();
    // Still one request out: the three wait for it.
    expect(broker.requests).toHaveLength(1);
    expect(batcher.pending).toBe(4);

    broker.requests[0]?.answer();
    await first;
    await tick();
    expect(broker.requests).toHaveLength(2);
    expect(broker.requests[1]?.topics).toEqual([
      { topic: "a", values: ["a2", "a3", "a4"] },
      { topic: "b", values: ["b1"] },
    ]);
    broker.requests[1]?.answer();
    await Promise.all(later);
    expect(batcher.pending).toBe(0);
    expect(broker.mostOpen()).toBe(1);
  });

  it("joins the calls of one event-loop turn in the first request", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch);
    const calls = [batcher.append("a", [msg("1")]), batcher.append("a", [msg("2")])];
    await tick();
    expect(broker.requests.map((r) => r.topics)).toEqual([[{ topic: "a", values: ["1", "2"] }]]);
    broker.requests[0]?.answer();
    await Promise.all(calls);
  });

  it("keeps a request within the record and byte limits and never splits a call", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch, {
      maxBatchRecords: 3,
      maxBatchBytes: 1_000,
    });
    const calls = [
      batcher.append("a", [msg("1"), msg("2")]),
      batcher.append("a", [msg("3"), msg("4")]),
      // Over the byte limit on its own: it goes alone.
      batcher.append("a", [msg("x".repeat(2_000))]),
      batcher.append("a", [msg("5")]),
    ];
    for (let i = 0; i < 4; i++) {
      await tick();
      broker.requests[i]?.answer();
      await tick();
    }
    await Promise.all(calls);
    expect(broker.requests.map((r) => r.topics[0]?.values.map((v) => v.slice(0, 1)))).toEqual([
      ["1", "2"],
      ["3", "4"],
      ["x"],
      ["5"],
    ]);
  });

  it("resends each call of a failed request alone, so only the call the broker refuses fails", async () => {
    const calls: string[][] = [];
    const batcher = createProduceBatcher((topicMessages) => {
      calls.push(topicMessages.map((t) => t.topic));
      return topicMessages.some((t) => t.topic === "missing")
        ? Promise.reject(new Error("This server does not host this topic-partition"))
        : Promise.resolve();
    });
    const results = await Promise.all([
      settled(batcher.append("a", [msg("1")])),
      settled(batcher.append("missing", [msg("2")])),
      settled(batcher.append("b", [msg("3")])),
    ]);
    expect(results).toEqual(["ok", "This server does not host this topic-partition", "ok"]);
    expect(calls).toEqual([["a", "missing", "b"], ["a"], ["missing"], ["b"]]);
    expect(batcher.pending).toBe(0);
  });

  it("rejects a lone call with the broker's error, and keeps serving the next ones", async () => {
    let fail = true;
    const batcher = createProduceBatcher(() =>
      fail ? Promise.reject(new Error("broker down")) : Promise.resolve(),
    );
    expect(await settled(batcher.append("a", [msg("1")]))).toBe("broker down");
    fail = false;
    expect(await settled(batcher.append("a", [msg("2")]))).toBe("ok");
  });

  it("resolves an empty call at once and refuses limits that are not positive integers", async () => {
    const broker = heldBroker();
    await createProduceBatcher(broker.sendBatch).append("a", []);
    expect(broker.requests).toHaveLength(0);
    expect(() => createProduceBatcher(broker.sendBatch, { maxBatchRecords: 0 })).toThrow(
      /maxBatchRecords must be a positive integer/,
    );
    expect(() => createProduceBatcher(broker.sendBatch, { maxBatchBytes: 1.5 })).toThrow(
      /maxBatchBytes/,
    );
  });

  it("counts key, value and header bytes", () => {
    expect(
      messageBytes({ key: "ab", value: Buffer.alloc(10), headers: { h: "xyz", m: ["1", "22"] } }),
    ).toBe(2 + 10 + 1 + 3 + 1 + 1 + 1 + 2);
  });
});
