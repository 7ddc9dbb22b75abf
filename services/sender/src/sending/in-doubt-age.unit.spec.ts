import { describe, expect, it } from "vitest";
import type { AnyEvent } from "@parley/contracts";
import { OUTBOX } from "../domain/ports.js";
import { dispatchMessage, memoryAttempts } from "./fixtures.spec-helpers.js";
import { outcomesOf } from "./outcomes.js";
import { createReconciler } from "./reconcile.js";

// The gauge behind the "in doubt over an hour" alert: after each in-doubt sweep, the age of the
// oldest request still in doubt (by when it went in doubt), 0 when none is.
const NUMBER = "106540352240001";
const TO = "16505551234";
const TIMEOUT_MS = 1_000_000;

/** A request called at `atMs` whose result never came: in doubt since then. */
async function inDoubt(
  attempts: ReturnType<typeof memoryAttempts>,
  requestId: string,
  atMs: number,
) {
  const dispatch = dispatchMessage(NUMBER, requestId, TO, {}, new Date(atMs));
  await attempts.claim({
    requestId,
    number: NUMBER,
    contactId: TO,
    bizOpaqueCallbackData: requestId,
    at: new Date(atMs),
    owner: "o",
  });
  await attempts.fence(requestId, 1, new Date(atMs));
  const won = await attempts.settle({
    requestId,
    epoch: 1,
    from: "calling",
    state: "in_doubt",
    outcomes: [outcomesOf(dispatch, () => atMs).inDoubt("timeout", atMs)],
    at: new Date(atMs),
    origin: "dispatch:0:0",
  });
  expect(won).toBe(true);
}

function setup() {
  const attempts = memoryAttempts();
  let now = 0;
  const ages: number[] = [];
  const published: AnyEvent[] = [];
  const reconciler = createReconciler({
    attempts,
    clock: () => now,
    onInDoubtAge: (seconds) => ages.push(seconds),
  });
  const sweep = async (atMs: number) => {
    now = atMs;
    await reconciler.sweep(TIMEOUT_MS, () => ({
      origin: OUTBOX,
      publish: (_id, events) => {
        published.push(...events);
        return Promise.resolve();
      },
    }));
    return ages.at(-1);
  };
  return { attempts, sweep, published };
}

describe("the oldest in-doubt age", () => {
  it("is 0 when nothing is in doubt", async () => {
    const { sweep } = setup();
    expect(await sweep(5_000)).toBe(0);
  });

  it("is the oldest request's age, and moves to the next once the oldest times out", async () => {
    const { attempts, sweep, published } = setup();
    await inDoubt(attempts, "r-old", 0);
    await inDoubt(attempts, "r-new", 10_000);
    expect(await sweep(100_000)).toBe(100);
    expect(published).toEqual([]);
    // Past the timeout of the first only: it fails as unknown, the second is the oldest now.
    expect(await sweep(TIMEOUT_MS + 5_000)).toBe((TIMEOUT_MS + 5_000 - 10_000) / 1_000);
    expect(published.map((e) => [e.type, e.correlationId])).toEqual([["SendFailed", "r-old"]]);
    expect(await sweep(TIMEOUT_MS + 20_000)).toBe(0);
    expect(published.map((e) => e.correlationId)).toEqual(["r-old", "r-new"]);
  });

  it("counts a request resolved by its status out (it is no longer in doubt)", async () => {
    const { attempts, sweep } = setup();
    await inDoubt(attempts, "r1", 0);
    expect(await sweep(60_000)).toBe(60);
    const failed = (await attempts.get("r1"))?.outcomes[0];
    if (!failed) throw new Error("no outcome");
    expect(await attempts.resolveInDoubt("r1", failed, "wamid.X", OUTBOX)).toBe(true);
    expect(await sweep(120_000)).toBe(0);
  });
});
