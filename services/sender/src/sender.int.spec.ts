import { createEvent, type EventOf } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import {
  BROKEN,
  FAST,
  HOT,
  SLOW,
  WABA,
  callsTo,
  calls,
  dispatch,
  metrics,
  mongo,
  outcomeOf,
  publish,
  sender,
  settled,
  sim,
  startSender,
  terminal,
  template,
  useSenderHarness,
} from "./sender-harness.spec-helpers.js";

// The sender against the real broker, registry and MongoDB, calling the Cloud API simulator.
useSenderHarness();

describe("sender", () => {
  // Invariants only: the achieved rate depends on the machine's load and is measured by the
  // benchmark (bash bench/outbound.sh, docs/benchmarks.md "Outbound path (sender)").
  it("holds 1,000 msg/s on one number and 80 msg/s on another: no one-second window over either cap, no recipient over pair pacing, per-recipient order kept", async () => {
    const fast: EventOf<"DispatchMessage">[] = [];
    const slow: EventOf<"DispatchMessage">[] = [];
    // 1,800 to 900 recipients (2 each) on FAST, 240 to 120 recipients (2 each) on SLOW: two sends
    // a recipient check its order; more would outlast Meta's 6 s burst window on a loaded machine
    // and the pacer would rightly hold them for their debt (minutes), which tests the pacer, not
    // the caps (that has its own test below).
    for (let n = 0; n < 2; n++)
      for (let r = 0; r < 900; r++)
        fast.push(dispatch(FAST, `fast-${r}-${n}`, `1555100${String(r).padStart(4, "0")}`));
    for (let n = 0; n < 2; n++)
      for (let r = 0; r < 120; r++)
        slow.push(dispatch(SLOW, `slow-${r}-${n}`, `1555200${String(r).padStart(4, "0")}`));
    await Promise.all([publish(fast), publish(slow)]);
    await settled(
      [...fast, ...slow].map((d) => d.data.requestId),
      150_000,
    );
    const stats = new Map(sim.stats().map((s) => [s.phoneNumberId, s]));
    expect(stats.get(FAST)?.accepted).toBe(1_800);
    expect(stats.get(SLOW)?.accepted).toBe(240);
    expect(stats.get(FAST)?.maxAcceptedInAnySecond).toBeLessThanOrEqual(1_000);
    expect(stats.get(SLOW)?.maxAcceptedInAnySecond).toBeLessThanOrEqual(80);
    // The simulator refuses what goes over (130429) or over pair pacing (131056): none here.
    const refused = sim.rejections().filter((r) => r.code === 130429 || r.code === 131056);
    expect(refused).toEqual([]);
    expect(sim.pairPacing().filter((p) => !p.ok)).toEqual([]);
    // Every request accepted (a refusal shows with its code here), exactly one SendAccepted per
    // request (no second call, no second outcome).
    expect(
      [...fast, ...slow]
        .map((d) => terminal(d.data.requestId))
        .filter((o) => o?.type !== "SendAccepted"),
    ).toEqual([]);
    for (const d of [...fast, ...slow]) {
      const accepted = outcomeOf(d.data.requestId).filter((o) => o.type === "SendAccepted");
      expect(new Set(accepted.map((o) => o.eventId)).size).toBe(1);
      expect(callsTo(d.data.to).filter((m) => m.callbackData === d.data.requestId)).toHaveLength(1);
    }
    for (let r = 0; r < 900; r++) {
      const to = `1555100${String(r).padStart(4, "0")}`;
      expect(callsTo(to).map((m) => m.callbackData)).toEqual([`fast-${r}-0`, `fast-${r}-1`]);
    }
    for (let r = 0; r < 120; r++) {
      const to = `1555200${String(r).padStart(4, "0")}`;
      expect(callsTo(to).map((m) => m.callbackData)).toEqual([`slow-${r}-0`, `slow-${r}-1`]);
    }
    // The slow number ran near its cap: 240 at 80/s takes about three seconds.
    const slowTimes = sim.messages({ phoneNumberId: SLOW }).map((m) => m.acceptedAt);
    expect(Math.max(...slowTimes) - Math.min(...slowTimes)).toBeGreaterThanOrEqual(1_900);
  }, 180_000);

  it("holds the cap at receipt when the receiver's front queues each request for 0 to 300 ms, bunching arrivals sent evenly", async () => {
    const started = Date.now();
    sim.resetStats();
    sim.setFaults({ queueing: { kind: "uniform", minMs: 0, maxMs: 300 } });
    try {
      // 480 to 240 recipients (2 each) on the 80 msg/s number: six seconds at the cap.
      const queued: EventOf<"DispatchMessage">[] = [];
      for (let n = 0; n < 2; n++)
        for (let r = 0; r < 240; r++)
          queued.push(dispatch(SLOW, `queued-${r}-${n}`, `1555210${String(r).padStart(4, "0")}`));
      await publish(queued);
      await settled(
        queued.map((d) => d.data.requestId),
        120_000,
      );
      for (const d of queued) expect(terminal(d.data.requestId)?.type).toBe("SendAccepted");
    } finally {
      sim.setFaults({ queueing: { kind: "none" } });
    }
    const slow = sim.stats().find((s) => s.phoneNumberId === SLOW);
    expect(slow?.accepted).toBe(480);
    expect(slow?.maxAcceptedInAnySecond).toBeLessThanOrEqual(80);
    expect(sim.rejections().filter((r) => r.at >= started && r.code === 130429)).toEqual([]);
  }, 180_000);

  it("131056 for one recipient backs off that recipient only; the others keep flowing", async () => {
    sim.scriptFaults([{ kind: "error", code: 131056 }], { endpoint: "messages" });
    await publish([dispatch(SLOW, "paced-x", "15553000001")]);
    await waitFor(async () => (await calls("paced-x")) >= 1, { timeoutMs: 10_000 });
    await publish([
      dispatch(SLOW, "paced-y", "15553000002"),
      dispatch(SLOW, "paced-z", "15553000003"),
    ]);
    await settled(["paced-x", "paced-y", "paced-z"]);
    const at = (id: string) => Date.parse(terminal(id)?.recordedAt ?? "");
    expect(at("paced-y")).toBeLessThan(at("paced-x"));
    expect(at("paced-z")).toBeLessThan(at("paced-x"));
    expect(terminal("paced-x")).toMatchObject({ type: "SendAccepted", data: { attempts: 2 } });
  }, 30_000);

  it("plans a burst to one recipient and its silence (Meta's borrowing): nothing more to it until the debt is repaid, other recipients keep flowing, no 131056", async () => {
    // The simulator enforces Meta's rule (a burst borrows one 6 s refill per message): a sender
    // pacing with a plain token bucket sends the second batch about 6 s in and gets 131056.
    const A = "15553100001";
    const started = Date.now();
    const burst = [0, 1, 2].map((n) => dispatch(SLOW, `borrow-a-${n}`, A));
    await publish(burst);
    await settled(burst.map((d) => d.data.requestId));
    // After the burst's 6 s window: two more to A, and others to B and C meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    const later = [3, 4].map((n) => dispatch(SLOW, `borrow-a-${n}`, A));
    const others = ["15553100002", "15553100003"].flatMap((to, r) =>
      [0, 1].map((n) => dispatch(SLOW, `borrow-${String(r)}-${n}`, to)),
    );
    await publish([...later, ...others]);
    await settled(others.map((d) => d.data.requestId));
    // B and C are done while A still waits for its debt.
    expect(later.map((d) => terminal(d.data.requestId))).toEqual([undefined, undefined]);
    await settled(
      later.map((d) => d.data.requestId),
      40_000,
    );
    const times = callsTo(A).map((m) => m.acceptedAt);
    expect(times).toHaveLength(5);
    // The three of the burst were repaid 18 s after its first send, and not before.
    const first = times[0] ?? 0;
    expect((times[2] ?? 0) - first).toBeLessThan(6_000);
    expect(times[3]).toBeGreaterThanOrEqual(first + 3 * 6_000);
    const bAndC = others.flatMap((d) => callsTo(d.data.to).map((m) => m.acceptedAt));
    expect(Math.max(...bAndC)).toBeLessThan(times[3] ?? 0);
    for (const d of [...burst, ...later, ...others])
      expect(terminal(d.data.requestId)).toMatchObject({
        type: "SendAccepted",
        data: { attempts: 1 },
      });
    expect(sim.rejections().filter((r) => r.at >= started && r.code === 131056)).toEqual([]);
    expect(sim.pairPacing({ to: A })[0]).toMatchObject({
      rejectedAt: [],
      overLimitAt: [],
      ok: true,
    });
  }, 90_000);

  it("a refused token (190) pauses only that number and raises the alert; other numbers keep sending", async () => {
    await publish([
      dispatch(BROKEN, "broken-1", "15554000001"),
      dispatch(BROKEN, "broken-2", "15554000002"),
    ]);
    await waitFor(() => sender.paused().some((p) => p.number === BROKEN), { timeoutMs: 10_000 });
    await publish([dispatch(SLOW, "alive-1", "15554000003")]);
    await settled(["alive-1"]);
    expect(terminal("broken-1")).toBeUndefined();
    expect(terminal("broken-2")).toBeUndefined();
    expect(sender.paused()).toEqual([expect.objectContaining({ number: BROKEN, code: 190 })]);
    const text = await metrics.metrics();
    expect(text).toMatch(
      new RegExp(`parley_sender_number_paused\\{[^}]*business_number="${BROKEN}"[^}]*\\} 1`),
    );
    // Not retried hot: one refused call for the first request, the second never called.
    // Both may have been in flight when the first 190 came back; neither is called again.
    expect(await calls("broken-1")).toBeLessThanOrEqual(1);
    expect(await calls("broken-2")).toBeLessThanOrEqual(1);
  }, 30_000);

  it("parks a paused number's dispatches durably, so its records commit; they go out in order once the token works, by the probe or after a restart", async () => {
    const parkedDocs = mongo.db.collection<{ _id: string; number: string }>("sender_parked");
    // The test before left BROKEN paused with broken-1 and broken-2 parked.
    await waitFor(async () => (await parkedDocs.countDocuments({ number: BROKEN })) === 2, {
      timeoutMs: 10_000,
      description: "the two first dispatches parked",
    });
    const batch = (round: string) => {
      const list: EventOf<"DispatchMessage">[] = [];
      for (let n = 0; n < 3; n++)
        for (let r = 0; r < 3; r++)
          list.push(dispatch(BROKEN, `${round}-${r}-${n}`, `1555410000${r}`));
      return list;
    };
    const first = batch("parked");
    await publish(first);
    await waitFor(async () => (await parkedDocs.countDocuments({ number: BROKEN })) === 11, {
      timeoutMs: 10_000,
      description: "11 dispatches parked",
    });
    // Parked, not held: nothing of BROKEN is unfinished in the consumer, so its offsets commit.
    await waitFor(() => sender.dispatch.stats.inFlight === 0, {
      timeoutMs: 10_000,
      description: "no dispatch held in memory",
    });
    expect(sender.parked(BROKEN)).toBe(11);
    expect(await metrics.metrics()).toMatch(
      new RegExp(`parley_sender_parked_dispatches\\{[^}]*business_number="${BROKEN}"[^}]*\\} 11`),
    );
    expect(sim.messages({ phoneNumberId: BROKEN })).toHaveLength(0);

    // The token works again (an admin restored its permissions): the probe resumes the number.
    sim.grantAccessToken({ token: "wrong-token" });
    const ids = ["broken-1", "broken-2", ...first.map((d) => d.data.requestId)];
    await settled(ids);
    for (const id of ids) expect(terminal(id)?.type).toBe("SendAccepted");
    const order = (to: string) => callsTo(to).map((m) => m.callbackData);
    for (let r = 0; r < 3; r++)
      expect(order(`1555410000${r}`)).toEqual([0, 1, 2].map((n) => `parked-${r}-${n}`));
    expect(sim.messages({ phoneNumberId: BROKEN })).toHaveLength(11);
    await waitFor(async () => (await parkedDocs.countDocuments({})) === 0, { timeoutMs: 10_000 });
    expect(sender.parked(BROKEN)).toBe(0);
    expect(sender.paused()).toEqual([]);

    // Refused again; this time the sender restarts before the token works: its successor finds
    // the park with no new dispatch to prompt it, and drains it.
    sim.revokeAccessToken("wrong-token");
    const second = batch("restart");
    await publish(second);
    await waitFor(async () => (await parkedDocs.countDocuments({ number: BROKEN })) === 9, {
      timeoutMs: 15_000,
      description: "9 dispatches parked again",
    });
    expect(sender.paused()).toEqual([expect.objectContaining({ number: BROKEN, parked: 9 })]);
    await sender.stop();
    sim.grantAccessToken({ token: "wrong-token" });
    await startSender();
    await settled(second.map((d) => d.data.requestId));
    for (const d of second) expect(terminal(d.data.requestId)?.type).toBe("SendAccepted");
    for (let r = 0; r < 3; r++)
      expect(order(`1555410000${r}`).slice(3)).toEqual([0, 1, 2].map((n) => `restart-${r}-${n}`));
    // At most one refused call each (the first ones met the revoked token), one accepted call.
    for (const d of second)
      expect(callsTo(d.data.to).filter((m) => m.callbackData === d.data.requestId)).toHaveLength(1);
    await waitFor(async () => (await parkedDocs.countDocuments({})) === 0, { timeoutMs: 10_000 });

    // Drained: the number's next dispatch goes straight out.
    await publish([dispatch(BROKEN, "after-park", "15554100009")]);
    await settled(["after-park"]);
    expect(terminal("after-park")?.type).toBe("SendAccepted");
    expect(await parkedDocs.countDocuments({})).toBe(0);
  }, 120_000);

  it("retries a 5xx burst with back-off; a permanent error is not retried", async () => {
    sim.scriptFaults(
      [
        { kind: "error", code: 131000, http: 500 },
        { kind: "error", code: 131000, http: 500 },
      ],
      { endpoint: "messages" },
    );
    const started = Date.now();
    await publish([dispatch(SLOW, "burst-1", "15555000001")]);
    await settled(["burst-1"]);
    expect(terminal("burst-1")).toMatchObject({ type: "SendAccepted", data: { attempts: 3 } });
    // Two back-offs of at least 100 ms and 200 ms (full jitter over [d/2, d]).
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);

    sim.scriptFaults([{ kind: "error", code: 131009 }], { endpoint: "messages" });
    await publish([dispatch(SLOW, "perm-1", "15555000002")]);
    await settled(["perm-1"]);
    expect(terminal("perm-1")).toMatchObject({
      type: "SendFailed",
      data: {
        attempts: 1,
        error: { errorClass: "invalid_request", code: 131009, retriable: false },
      },
    });
    expect(await calls("perm-1")).toBe(1);
  }, 30_000);

  it("an opt-out recorded after the request stops it; a free-form message with no open window is rejected, inside one it goes", async () => {
    const revoked = createEvent(
      "ConsentRevoked",
      { contactId: "15556000001", scope: "all", channel: "whatsapp", source: "keyword" },
      { correlationId: "stop-1", now: new Date() },
    );
    await publish([revoked]);
    await waitFor(
      async () =>
        (await mongo.db
          .collection("sender_gates")
          .countDocuments({ _id: "15556000001" as never })) === 1,
      {
        timeoutMs: 10_000,
      },
    );
    const text = { type: "text" as const, text: { body: "hello" } };
    const opened = createEvent(
      "ConversationWindowOpened",
      {
        contactId: "15556000003",
        openedBy: "wamid.in-1",
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        freeEntryPoint: false,
      },
      { correlationId: "in-1", businessNumber: SLOW, now: new Date() },
    );
    sim.userSends("15556000003", { type: "text", body: "hi" }, { phoneNumberId: SLOW });
    await publish([opened]);
    await waitFor(
      async () =>
        (await mongo.db
          .collection("sender_gates")
          .countDocuments({ _id: "15556000003" as never })) === 1,
      {
        timeoutMs: 10_000,
      },
    );
    await publish([
      dispatch(SLOW, "optout-1", "15556000001"),
      dispatch(SLOW, "closed-1", "15556000002", text),
      dispatch(SLOW, "open-1", "15556000003", text, { consentEventId: "consent-open-1" }),
    ]);
    await settled(["optout-1", "closed-1", "open-1"]);
    expect(terminal("optout-1")).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out" },
    });
    expect(terminal("closed-1")).toMatchObject({
      type: "SendRejected",
      data: { reason: "outside_window" },
    });
    // The consent event the router relied on is echoed on the outcome.
    expect(terminal("open-1")).toMatchObject({
      type: "SendAccepted",
      data: { consentEventId: "consent-open-1" },
    });
    expect(callsTo("15556000001")).toHaveLength(0);
    expect(callsTo("15556000002")).toHaveLength(0);
  }, 30_000);

  it("sends to a business-scoped user id (BSUID) in Graph's recipient field", async () => {
    const user = sim.addUser({ waId: "15559000001" });
    await publish([
      dispatch(SLOW, "bsuid-1", user.userId, template, {
        toKind: "userId",
        contactId: "15559000001",
      }),
    ]);
    await settled(["bsuid-1"]);
    expect(terminal("bsuid-1")).toMatchObject({ type: "SendAccepted" });
    const received = sim.received("15559000001");
    expect(received).toHaveLength(1);
    expect(received[0]?.recipientUserId).toBe(user.userId);
  }, 30_000);

  it("a call whose answer is lost is in doubt, never resent, then reconciled from its status webhook", async () => {
    sim.scriptFaults([{ kind: "timeout-after-accept" }], { endpoint: "messages" });
    const doubtful = dispatch(SLOW, "doubt-1", "15557000001", template, {
      consentEventId: "consent-doubt-1",
    });
    await publish([doubtful]);
    await waitFor(() => outcomeOf("doubt-1").some((o) => o.type === "SendInDoubt"), {
      timeoutMs: 15_000,
    });
    expect(outcomeOf("doubt-1")[0]).toMatchObject({
      type: "SendInDoubt",
      data: { reason: "timeout" },
    });
    const sent = callsTo("15557000001");
    expect(sent).toHaveLength(1);
    // The same dispatch in another record calls nothing and publishes nothing.
    await publish([doubtful]);
    const status = createEvent(
      "StatusUpdated",
      {
        contactId: "15557000001",
        wamid: sent[0]?.wamid ?? "",
        status: "sent",
        origin: {
          deliveryId: "delivery-status-1",
          wabaId: WABA,
          displayPhoneNumber: "15550000002",
        },
        bizOpaqueCallbackData: sent[0]?.callbackData ?? "",
      },
      { correlationId: "status-1", businessNumber: SLOW, now: new Date() },
    );
    await publish([status]);
    await settled(["doubt-1"]);
    expect(terminal("doubt-1")).toMatchObject({
      type: "SendReconciled",
      data: { result: "sent", wamid: sent[0]?.wamid, consentEventId: "consent-doubt-1" },
    });
    expect(callsTo("15557000001")).toHaveLength(1);
    const ids = new Set(
      outcomeOf("doubt-1")
        .filter((o) => o.type === "SendInDoubt")
        .map((o) => o.eventId),
    );
    expect(ids.size).toBe(1);
    // Exactly one record each (the copy published nothing): in doubt, then reconciled.
    expect(outcomeOf("doubt-1").map((o) => o.type)).toEqual(["SendInDoubt", "SendReconciled"]);
  }, 40_000);

  it("a redelivered dispatch follows its attempt record (the first claim is an insert): a settled request is not published again by a second record of it, even after an opt-out; a call cut short by a crash is in doubt; a refused call is made once more", async () => {
    const attemptsCol = mongo.db.collection<{
      _id: string;
      number: string;
      state: string;
      attemptedAt: Date;
      calls: number;
      outcomes: unknown[];
      bizOpaqueCallbackData: string;
      contactId: string;
    }>("sender_attempts");
    // Settled: accepted once, then delivered again after the contact opted out meanwhile.
    const first = dispatch(SLOW, "again-1", "15558000001");
    await publish([first]);
    await settled(["again-1"]);
    const accepted = terminal("again-1");
    expect(accepted?.type).toBe("SendAccepted");
    await publish([
      createEvent(
        "ConsentRevoked",
        { contactId: "15558000001", scope: "all", channel: "whatsapp", source: "keyword" },
        { correlationId: "again-stop", now: new Date() },
      ),
    ]);
    await waitFor(
      async () =>
        (await mongo.db
          .collection("sender_gates")
          .countDocuments({ _id: "15558000001" as never })) === 1,
      { timeoutMs: 10_000 },
    );
    // A sender that crashed mid-call left "calling" behind long ago; another's call was refused.
    const record = (id: string, to: string, state: string) => ({
      _id: id,
      number: SLOW,
      state,
      attemptedAt: new Date(Date.now() - 60_000),
      calls: 1,
      outcomes: [],
      bizOpaqueCallbackData: id,
      contactId: to,
    });
    await attemptsCol.insertMany([
      record("crashed-1", "15558000002", "calling"),
      record("refused-1", "15558000003", "refused"),
    ]);
    // The DispatchMessage again in another record (as a router replaying its outbox emits it),
    // then one more request to the same contact: handled after it, in order.
    await publish([
      first,
      dispatch(SLOW, "again-2", "15558000001"),
      dispatch(SLOW, "crashed-1", "15558000002"),
      dispatch(SLOW, "refused-1", "15558000003"),
    ]);
    await settled(["refused-1"]);
    await waitFor(() => outcomeOf("crashed-1").length > 0, {
      timeoutMs: 10_000,
      description: "the crashed call in doubt",
    });
    await settled(["again-2"]);
    expect(terminal("again-2")).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out" },
    });
    // The copy was handled before again-2 (same contact, in order), and its outputs would be
    // on the same partition of send-outcomes before again-2's: it published nothing. Until
    // transactions (issue 30) it published the stored outcome again (same event id).
    expect(outcomeOf("again-1")).toEqual([accepted]);
    expect(callsTo("15558000001")).toHaveLength(1);
    expect(await calls("again-1")).toBe(1);
    expect(outcomeOf("crashed-1")).toHaveLength(1);
    expect(outcomeOf("crashed-1")[0]).toMatchObject({
      type: "SendInDoubt",
      data: { reason: "crash_recovery" },
    });
    expect(callsTo("15558000002")).toHaveLength(0);
    expect(terminal("refused-1")).toMatchObject({ type: "SendAccepted", data: { attempts: 2 } });
    expect(callsTo("15558000003")).toHaveLength(1);
    expect(await calls("refused-1")).toBe(2);
  }, 40_000);

  it("one number's backlog does not hold up another number of its dispatch partition: past SENDER_PARK_ABOVE it parks, and drains in order, once, under its cap, through a restart", async () => {
    const parkedDocs = mongo.db.collection<{ _id: string; number: string }>("sender_parked");
    // Small bounds, so a backlog of 300 would fill the partition's share (100) many times over.
    const small = { SENDER_MAX_IN_FLIGHT: 200, SENDER_PARK_ABOVE: 40 };
    await sender.stop();
    await startSender(small);
    sim.resetStats();
    const started = Date.now();
    // 300 to 150 recipients (2 each, 7.5 s apart: no burst debt) on HOT at 20 msg/s: 15 s at
    // its cap. Then 5 on SLOW, behind all of them on the same partition.
    const hot: EventOf<"DispatchMessage">[] = [];
    for (let n = 0; n < 2; n++)
      for (let r = 0; r < 150; r++)
        hot.push(dispatch(HOT, `hot-${r}-${n}`, `1555630${String(r).padStart(4, "0")}`));
    const quiet = Array.from({ length: 5 }, (_, i) =>
      dispatch(SLOW, `quiet-${i}`, `1555610000${i}`),
    );
    await publish(hot);
    await publish(quiet);
    await settled(quiet.map((d) => d.data.requestId));
    for (const d of quiet) expect(terminal(d.data.requestId)?.type).toBe("SendAccepted");
    // SLOW went out while most of HOT's backlog still waited (with the partition's bound alone it
    // waits until about 200 of HOT's 300 are sent: 10 s at 20 msg/s).
    const hotSentBefore = sim.stats().find((st) => st.phoneNumberId === HOT)?.accepted ?? 0;
    expect(hotSentBefore).toBeLessThan(150);
    expect(await parkedDocs.countDocuments({ number: HOT })).toBeGreaterThan(0);

    // A restart in the middle of the drain: dispatches in memory were not committed, and come
    // back behind the park; the new instance drains it.
    await sender.stop();
    await startSender(small);
    await settled(
      hot.map((d) => d.data.requestId),
      90_000,
    );
    const notAccepted = hot
      .map((d) => terminal(d.data.requestId))
      .filter((o) => o?.type !== "SendAccepted");
    expect(notAccepted).toEqual([]);
    for (const d of hot) {
      expect(callsTo(d.data.to).filter((m) => m.callbackData === d.data.requestId)).toHaveLength(1);
    }
    for (let r = 0; r < 150; r++)
      expect(callsTo(`1555630${String(r).padStart(4, "0")}`).map((m) => m.callbackData)).toEqual([
        `hot-${r}-0`,
        `hot-${r}-1`,
      ]);
    const stats = sim.stats().find((st) => st.phoneNumberId === HOT);
    expect(stats?.accepted).toBe(300);
    expect(stats?.maxAcceptedInAnySecond).toBeLessThanOrEqual(20);
    expect(sim.rejections().filter((r) => r.at >= started && r.code === 130429)).toEqual([]);
    await waitFor(async () => (await parkedDocs.countDocuments({ number: HOT })) === 0, {
      timeoutMs: 10_000,
      description: "HOT's park empty",
    });
    expect(sender.parked(HOT)).toBe(0);

    await sender.stop();
    await startSender();
  }, 150_000);
});
