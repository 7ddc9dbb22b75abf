import type { AnyEvent, EventData, EventOf } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { defaultRetryPolicy } from "../domain/backoff.js";
import { parleyMediaIds, withGraphMediaIds } from "../domain/media.js";
import { createDispatchHandler, type GraphSend } from "./dispatch-handler.js";
import {
  acceptedSend,
  dispatchMessage,
  memoryAttempts,
  testLane,
  testOutlet,
} from "./fixtures.spec-helpers.js";
import type { MediaResolution, MediaResolver } from "./ports.js";

// Outbound media (ADR 0013, "Outbound"): a message naming a Parley upload (`up_...`) reaches
// Graph with the media service's Graph id for the number; the stored command keeps the Parley
// id. Every exit of the resolution: resolved, refused (404, 422, none configured: a final
// SendFailed without a call), an outage (waited out, never a failure, never a call).
const NUMBER = "106540352240001";
const TO = "16505551234";

function imageOf(requestId: string, id: string): EventOf<"DispatchMessage"> {
  return dispatchMessage(
    NUMBER,
    requestId,
    TO,
    { content: { type: "image", image: { id, caption: "the invoice" } }, category: "service" },
    new Date(),
  );
}

function setup(media: MediaResolver | undefined) {
  const calls: EventData<"DispatchMessage">[] = [];
  const graph: GraphSend = (_number, d) => {
    calls.push(d);
    return Promise.resolve(acceptedSend(d));
  };
  const warnings: string[] = [];
  const lane = testLane({ number: NUMBER, mps: 80, clock: () => Date.now() });
  const attempts = memoryAttempts();
  const handle = createDispatchHandler({
    lane: (n) => (n === NUMBER ? lane : undefined),
    attempts,
    gates: {
      // An open service window: free-form goes.
      view: () => Promise.resolve({ windowExpiresAt: Date.now() + 3_600_000 }),
      consent: () => Promise.resolve(),
      window: () => Promise.resolve(),
    },
    graph,
    clock: () => Date.now(),
    random: () => 0.5,
    policy: { retry: defaultRetryPolicy, maxPacedAttempts: 3 },
    callBoundMs: 30_000,
    windowRecheckMs: 0,
    observer: { outcome: () => undefined, graphCall: () => undefined, inFlight: () => undefined },
    logger: {
      info: () => undefined,
      warn: (_o, msg) => warnings.push(msg),
      error: () => undefined,
    },
    parking: { park: () => Promise.resolve() },
    media,
    mediaRetry: { initialMs: 5, maxMs: 20 },
  });
  const published: AnyEvent[] = [];
  const run = (d: EventOf<"DispatchMessage">, signal = new AbortController().signal) =>
    handle(d, signal, testOutlet(published));
  return { run, calls, published, attempts, warnings };
}

/** A media service answering `answers` in turn (the last one from then on), recording each ask. */
function mediaAnswering(...answers: MediaResolution[]) {
  const asked: { id: string; number: string }[] = [];
  const resolver: MediaResolver = {
    resolve(id, number) {
      asked.push({ id, number });
      return Promise.resolve(
        answers[Math.min(asked.length - 1, answers.length - 1)] as MediaResolution,
      );
    },
  };
  return { resolver, asked };
}

describe("Parley media ids in a message", () => {
  it("are found in the body, an interactive header and a template's header parameter; Graph ids are left alone", () => {
    const template: EventData<"DispatchMessage">["content"] = {
      type: "template",
      template: {
        name: "invoice",
        language: { code: "en" },
        components: [
          { type: "header", parameters: [{ type: "document", document: { id: "up_doc" } }] },
        ],
      },
    };
    expect(parleyMediaIds(template)).toEqual(["up_doc"]);
    const replaced = withGraphMediaIds(template, { up_doc: "1234" });
    expect(parleyMediaIds(replaced)).toEqual([]);
    expect(JSON.stringify(replaced)).toContain('"id":"1234"');
    expect(parleyMediaIds({ type: "image", image: { id: "987654" } })).toEqual([]);
    expect(parleyMediaIds({ type: "image", image: { link: "https://x.test/a.jpg" } })).toEqual([]);
    expect(parleyMediaIds({ type: "text", text: { body: "up_abc" } })).toEqual([]);
    const image = { type: "image" as const, image: { id: "up_a", caption: "c" } };
    expect(withGraphMediaIds(image, { up_a: "42" })).toEqual({
      type: "image",
      image: { id: "42", caption: "c" },
    });
    // The input is not changed (the stored command keeps the Parley id).
    expect(image.image.id).toBe("up_a");
  });
});

describe("the sender resolves a Parley upload before the call", () => {
  it("sends the Graph media id the media service answers for the number; the record keeps the up_ id", async () => {
    const media = mediaAnswering({ kind: "resolved", graphMediaId: "777000111" });
    const { run, calls, published, attempts } = setup(media.resolver);
    const d = imageOf("r1", "up_invoice");
    expect(await run(d)).toBe("finished");
    expect(media.asked).toEqual([{ id: "up_invoice", number: NUMBER }]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.content).toEqual({
      type: "image",
      image: { id: "777000111", caption: "the invoice" },
    });
    expect(d.data.content).toEqual({
      type: "image",
      image: { id: "up_invoice", caption: "the invoice" },
    });
    expect(published.map((e) => e.type)).toEqual(["SendAccepted"]);
    expect((await attempts.get("r1"))?.state).toBe("done");
  });

  it("does not ask the media service for a Graph id or a link", async () => {
    const media = mediaAnswering({ kind: "resolved", graphMediaId: "1" });
    const { run, calls } = setup(media.resolver);
    await run(imageOf("r1", "555666777"));
    expect(media.asked).toEqual([]);
    expect(calls[0]?.content).toMatchObject({ image: { id: "555666777" } });
  });

  for (const [why, detail] of [
    ["the object is gone (404)", "no such media (404): no stored media under that id"],
    ["Graph refused the file (422)", "Graph refused the file (422): 131053 unsupported"],
  ] as const)
    it(`fails for good without a call when ${why}`, async () => {
      const media = mediaAnswering({ kind: "refused", detail });
      const { run, calls, published, attempts } = setup(media.resolver);
      expect(await run(imageOf("r1", "up_gone"))).toBe("finished");
      expect(calls).toEqual([]);
      expect(published).toHaveLength(1);
      const failed = published[0];
      if (failed?.type !== "SendFailed")
        throw new Error(`expected SendFailed, got ${failed?.type}`);
      expect(failed.data.error).toMatchObject({ errorClass: "media", retriable: false });
      expect(failed.data.error.details).toBe(`up_gone: ${detail}`);
      expect(failed.data.attempts).toBe(0);
      expect((await attempts.get("r1"))?.state).toBe("done");
      // The same record again publishes the same outcome, and still makes no call.
      expect(await run(imageOf("r1", "up_gone"))).toBe("finished");
      expect(calls).toEqual([]);
    });

  it("refuses an up_ id with a clear reason when no media service is configured", async () => {
    const { run, calls, published } = setup(undefined);
    await run(imageOf("r1", "up_x"));
    expect(calls).toEqual([]);
    const failed = published[0];
    if (failed?.type !== "SendFailed") throw new Error("expected SendFailed");
    expect(failed.data.error.errorClass).toBe("media");
    expect(failed.data.error.details).toContain("MEDIA_API_URL");
  });

  it("waits out an outage: no failure, no call, then sends once the media service answers", async () => {
    const media = mediaAnswering(
      { kind: "unavailable", detail: "the media service answered 503" },
      { kind: "unavailable", detail: "the media service did not answer: ECONNREFUSED" },
      { kind: "resolved", graphMediaId: "4242" },
    );
    const { run, calls, published, warnings } = setup(media.resolver);
    expect(await run(imageOf("r1", "up_a"))).toBe("finished");
    expect(media.asked).toHaveLength(3);
    expect(warnings.filter((w) => w.startsWith("media service unavailable"))).toHaveLength(2);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.content).toMatchObject({ image: { id: "4242" } });
    expect(published.map((e) => e.type)).toEqual(["SendAccepted"]);
  });

  it("a stop during an outage ends the handling with no outcome, no call and no record (a redelivery sends it)", async () => {
    const down = mediaAnswering({ kind: "unavailable", detail: "503" });
    const { run, calls, published, attempts } = setup(down.resolver);
    const stop = new AbortController();
    const handling = run(imageOf("r1", "up_a"), stop.signal);
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await expect(handling).rejects.toThrow();
    expect(calls).toEqual([]);
    expect(published).toEqual([]);
    expect(await attempts.get("r1")).toBeUndefined();
  });
});
