import type { AnyEvent } from "@parley/contracts";
import { createMongo, type MongoConnection } from "@parley/mongo";
import { startStack, type Stack } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongoAttemptStore } from "../adapters/store/attempt-store.js";
import type { AttemptStore } from "../domain/ports.js";
import type { GraphSend } from "./dispatch-handler.js";
import {
  acceptedSend,
  dispatchMessage,
  testDispatchHandler,
  testLane,
  testOutlet,
} from "./fixtures.spec-helpers.js";

// A first send writes its attempt record once before the call: the insert of the record, already
// `calling` (the claim and the fence in one write, ADR 0006 "One write before the call"), and its
// outcome after the call. Broken on purpose against the real MongoDB-wire server: the owner dies
// between its call and its outcome, so the record stays `calling`; every later owner of the
// request finds it, puts it in doubt once the longest call has passed, and never calls again.
let stack: Stack;
let mongo: MongoConnection;
let attempts: AttemptStore;

beforeAll(async () => {
  stack = await startStack();
  const ns = stack.namespace("first-send-crash");
  mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  attempts = createMongoAttemptStore(mongo.db);
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
});

const NUMBER = "106540352249001";

/** Graph accepting the call. */
const accept: GraphSend = (_number, d) => Promise.resolve(acceptedSend(d));

/** One owner (a sender process): its own lane, the shared store, Graph as given. */
function owner(graph: GraphSend, callBoundMs: number) {
  const clock = (): number => Date.now();
  const lane = testLane({ number: NUMBER, mps: 10, clock, tuning: { marginMs: 0 } });
  const handle = testDispatchHandler({ number: NUMBER, lane, attempts, graph, clock, callBoundMs });
  return { handle, lane };
}

describe("one write before the call: a crash between the call and its outcome", () => {
  it("leaves the inserted `calling` record: the next owners put it in doubt and never call again", async () => {
    const dispatch = dispatchMessage(NUMBER, "crashed-mid-call", "16505559001");
    // The first owner's call reaches Graph and never comes back: the process died with it.
    const reached: string[] = [];
    let reachedGraph = (): void => undefined;
    const inCall = new Promise<void>((resolve) => {
      reachedGraph = resolve;
    });
    const dying = owner((_number, d) => {
      reached.push(d.requestId);
      reachedGraph();
      return new Promise(() => undefined);
    }, 500);
    const published: AnyEvent[] = [];
    void dying.handle(dispatch, new AbortController().signal, testOutlet(published));
    await inCall;
    // Its one write before the call: the record, `calling`, one call, under epoch 1.
    const written = await attempts.get("crashed-mid-call");
    expect(written).toMatchObject({
      state: "calling",
      epoch: 1,
      calls: 1,
      outcomes: [],
    });
    dying.lane.close();

    // The dispatch comes again to a new owner (a restart): it must not call.
    const calls: string[] = [];
    const next = owner((number, d) => {
      calls.push(d.requestId);
      return accept(number, d);
    }, 500);
    expect(
      await next.handle(dispatch, new AbortController().signal, testOutlet(published, "d:0:1")),
    ).toBe("finished");
    // It waited for the longest call to pass before judging the record, then put it in doubt.
    expect(Date.now()).toBeGreaterThanOrEqual((written?.calledAt ?? Infinity) + 500);
    expect(calls).toEqual([]);
    expect(published.map((e) => e.type)).toEqual(["SendInDoubt"]);
    const stored = await attempts.get("crashed-mid-call");
    expect(stored).toMatchObject({ state: "in_doubt", calls: 1 });

    // And again (another redelivery): the stored outcome, never a call.
    expect(
      await next.handle(dispatch, new AbortController().signal, testOutlet(published, "d:0:1")),
    ).toBe("finished");
    expect(calls).toEqual([]);
    expect(reached).toEqual(["crashed-mid-call"]);
    expect(new Set(published.map((e) => e.eventId)).size).toBe(1);
    next.lane.close();
  }, 20_000);

  it("a second dispatch of a request already sent loses the insert at its slot: no second call", async () => {
    const calls: string[] = [];
    const counted: GraphSend = (number, d) => {
      calls.push(d.requestId);
      return accept(number, d);
    };
    const a = owner(counted, 30_000);
    const b = owner(counted, 30_000);
    const published: AnyEvent[] = [];
    const dispatch = dispatchMessage(NUMBER, "sent-once", "16505559002");
    // Two dispatches of one request (the router emitted it twice), on two owners at once.
    const results = await Promise.all([
      a.handle(dispatch, new AbortController().signal, testOutlet(published, "d:1:1")),
      b.handle(dispatch, new AbortController().signal, testOutlet(published, "d:1:2")),
    ]);
    expect(results).toEqual(["finished", "finished"]);
    expect(calls).toEqual(["sent-once"]);
    expect(await attempts.get("sent-once")).toMatchObject({ state: "done", epoch: 1, calls: 1 });
    expect(published.map((e) => e.type)).toEqual(["SendAccepted"]);
    a.lane.close();
    b.lane.close();
  }, 40_000);
});
