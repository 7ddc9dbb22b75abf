import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import { SENDER_STATUSES_CONSUMER } from "./adapters/kafka/consumers.js";
import {
  GROW,
  caughtUp,
  SLOW,
  WABA,
  callsTo,
  dispatch,
  mongo,
  outcomeOf,
  publish,
  sender,
  settled,
  sim,
  startSender,
  terminal,
  useSenderHarness,
} from "./sender-harness.spec-helpers.js";

// What Meta says later (issue 29), against the real broker, registry and MongoDB and the
// simulator: a number held while Meta says 131057 and its new throughput applied without a
// restart, quality webhooks, and failed statuses after SendAccepted (async failures, late
// template fallback).
useSenderHarness();

describe("sender: what Meta says later", () => {
  it("131057 (maintenance, the throughput upgrade) holds the whole number, one probe at a time: nothing fails, nothing is sent twice, other numbers keep flowing; afterwards the number sends at its new level without a restart", async () => {
    const started = Date.now();
    sim.resetStats();
    const batch = (tag: string, n: number) =>
      Array.from({ length: n }, (_, i) =>
        dispatch(GROW, `${tag}-${String(i)}`, `155571${String(i).padStart(5, "0")}`),
      );
    const before = batch("grow-a", 40);
    await publish(before);
    await waitFor(() => (sim.stats().find((x) => x.phoneNumberId === GROW)?.accepted ?? 0) >= 10, {
      timeoutMs: 10_000,
    });
    // Meta upgrades the number: 131057 for 4 s, then 1,000 msg/s and a THROUGHPUT_UPGRADE webhook.
    sim.upgradeThroughput(GROW, 4_000);
    const during = batch("grow-b", 300);
    await publish(during);
    await waitFor(() => sender.held().some((h) => h.number === GROW && h.code === 131057), {
      timeoutMs: 10_000,
      description: "the number held on 131057",
    });
    // Another number is not held meanwhile.
    await publish([dispatch(SLOW, "while-held", "15557200001")]);
    await settled(["while-held"]);
    expect(sim.stats().find((x) => x.phoneNumberId === GROW)?.accepted ?? 0).toBeLessThan(340);
    const all = [...before, ...during];
    await settled(
      all.map((d) => d.data.requestId),
      60_000,
    );
    for (const d of all) expect(terminal(d.data.requestId)?.type).toBe("SendAccepted");
    for (const d of all)
      expect(callsTo(d.data.to).filter((m) => m.callbackData === d.data.requestId)).toHaveLength(1);
    // Few refused calls: the first ones on the wire, then one probe per wait (5 s, then 7.5 s).
    const refused = sim.rejections().filter((r) => r.at >= started && r.code === 131057);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(30);
    // The hold ended and Graph was asked the new level: HIGH, applied at once.
    await waitFor(() => sender.lanes.get(GROW)?.mps === 1_000, {
      timeoutMs: 10_000,
      description: "the new cap applied",
    });
    expect(sender.held()).toEqual([]);
    sim.resetStats();
    const after = batch("grow-c", 600);
    await publish(after);
    await settled(
      after.map((d) => d.data.requestId),
      60_000,
    );
    const grow = sim.stats().find((x) => x.phoneNumberId === GROW);
    expect(grow?.accepted).toBe(600);
    // Far above the old 80 in some second, never above Meta's 1,000.
    expect(grow?.maxAcceptedInAnySecond).toBeGreaterThan(80);
    expect(grow?.maxAcceptedInAnySecond).toBeLessThanOrEqual(1_000);
  }, 120_000);

  it("applies a THROUGHPUT_UPGRADE webhook at once, and a downgrade as Graph then says it", async () => {
    const quality = (event: string) =>
      createEvent(
        "PhoneNumberQualityUpdated",
        {
          wabaId: WABA,
          deliveryId: `quality-${event}`,
          displayPhoneNumber: "15550000002",
          phoneNumberId: SLOW,
          event,
        },
        { correlationId: `quality-${event}`, now: new Date() },
      );
    // SLOW is configured at 80 (a ceiling): an upgrade cannot lift it.
    await publish([quality("THROUGHPUT_UPGRADE")]);
    await waitFor(
      async () =>
        (
          await mongo.db
            .collection<{ _id: string; level: string }>("sender_numbers")
            .findOne({ _id: SLOW })
        )?.level === "HIGH",
      { timeoutMs: 15_000, description: "the upgrade stored" },
    );
    expect(sender.lanes.get(SLOW)?.mps).toBe(80);
    // A quality event without a level: Graph is asked, and says STANDARD.
    await publish([quality("FLAGGED")]);
    await waitFor(
      async () =>
        (
          await mongo.db
            .collection<{ _id: string; level: string }>("sender_numbers")
            .findOne({ _id: SLOW })
        )?.level === "STANDARD",
      { timeoutMs: 15_000, description: "Graph's level read again" },
    );
  }, 40_000);

  it("a failed status after SendAccepted becomes the request's final word (SendFailed async with Meta's code), once, however often Meta repeats it", async () => {
    const to = "15557300001";
    sim.scriptFaults([{ kind: "fail-async", code: 132015, afterMs: 50 }], {
      endpoint: "messages",
      to,
    });
    await publish([dispatch(SLOW, "late-1", to)]);
    await settled(["late-1"]);
    expect(terminal("late-1")?.type).toBe("SendAccepted");
    const sent = callsTo(to)[0];
    await waitFor(() => sent?.failure !== undefined || callsTo(to)[0]?.failure !== undefined, {
      timeoutMs: 5_000,
    });
    const failedStatus = (id: string) =>
      createEvent(
        "StatusUpdated",
        {
          contactId: to,
          wamid: sent?.wamid ?? "",
          status: "failed",
          origin: { deliveryId: `d-${id}`, wabaId: WABA },
          bizOpaqueCallbackData: "late-1",
          errors: [{ code: 132015, title: "Template is Paused" }],
        },
        { correlationId: id, businessNumber: SLOW, now: new Date() },
      );
    const first = failedStatus("status-late-1");
    // Meta posts it twice, and the same record is delivered twice.
    await publish([first, failedStatus("status-late-1b"), first]);
    await waitFor(() => outcomeOf("late-1").some((o) => o.type === "SendFailed"), {
      timeoutMs: 15_000,
    });
    // All three handled and committed: whatever they published is on send-outcomes by now
    // (and read within a fetch or two).
    await caughtUp(SENDER_STATUSES_CONSUMER, "statuses");
    await new Promise((r) => setTimeout(r, 1_000));
    const failures = outcomeOf("late-1").filter((o) => o.type === "SendFailed");
    // One record: the status event in a second record publishes nothing (until transactions,
    // issue 30, it published the stored event again, same id).
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      type: "SendFailed",
      data: {
        phase: "async",
        wamid: sent?.wamid,
        error: { code: 132015, errorClass: "template", retriable: false },
        // The dispatch is gone by then; the attempt record kept the template it sent.
        template: { name: "order_update", language: "en" },
      },
    });
    expect(callsTo(to)).toHaveLength(1);
  }, 40_000);

  it("a free-form text accepted and then failed with 131047 is followed by its template fallback, once; without one, SendFailed async 131047", async () => {
    const text = { type: "text" as const, text: { body: "your parcel is at the door" } };
    const fallback = { name: "order_update", language: { code: "en" } };
    const withFallback = "15557400001";
    const without = "15557400002";
    const optedOut = "15557400003";
    for (const contactId of [withFallback, without, optedOut])
      await publish([
        createEvent(
          "ConversationWindowOpened",
          {
            contactId,
            openedBy: `wamid.in-${contactId}`,
            expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
            freeEntryPoint: false,
          },
          { correlationId: `in-${contactId}`, businessNumber: SLOW, now: new Date() },
        ),
      ]);
    await waitFor(
      async () =>
        (await mongo.db.collection("sender_gates").countDocuments({
          _id: { $in: [withFallback, without, optedOut] } as never,
        })) === 3,
      { timeoutMs: 10_000 },
    );
    // Meta's view of the window differs (it closed): each text is accepted, then failed.
    for (const to of [withFallback, without, optedOut])
      sim.scriptFaults([{ kind: "fail-async", code: 131047, afterMs: 50 }], {
        endpoint: "messages",
        to,
      });
    await publish([
      dispatch(SLOW, "fb-1", withFallback, text, { templateFallback: fallback }),
      dispatch(SLOW, "fb-2", without, text),
      dispatch(SLOW, "fb-3", optedOut, text, { templateFallback: fallback }),
    ]);
    await settled(["fb-1", "fb-2", "fb-3"]);
    const failedStatus = (to: string, requestId: string) => {
      const sent = callsTo(to)[0];
      return createEvent(
        "StatusUpdated",
        {
          contactId: to,
          wamid: sent?.wamid ?? "",
          status: "failed",
          origin: { deliveryId: `d-${requestId}`, wabaId: WABA },
          bizOpaqueCallbackData: requestId,
          errors: [{ code: 131047, title: "Re-engagement message" }],
        },
        { correlationId: `st-${requestId}`, businessNumber: SLOW, now: new Date() },
      );
    };
    // The contact of fb-3 opts out before Meta's failure comes: its fallback may not go.
    await publish([
      createEvent(
        "ConsentRevoked",
        { contactId: optedOut, scope: "all", channel: "whatsapp", source: "keyword" },
        { correlationId: "fb-stop", now: new Date() },
      ),
    ]);
    await waitFor(
      async () =>
        (
          await mongo.db
            .collection<{ consent?: unknown }>("sender_gates")
            .findOne({ _id: optedOut as never })
        )?.consent !== undefined,
      { timeoutMs: 10_000 },
    );
    const statuses = [
      failedStatus(withFallback, "fb-1"),
      failedStatus(without, "fb-2"),
      failedStatus(optedOut, "fb-3"),
    ];
    await publish(statuses);
    // Meta repeats the first one (another event), and the same record comes again.
    await publish([failedStatus(withFallback, "fb-1"), statuses[0] as AnyEvent]);
    const last = (id: string) => outcomeOf(id).at(-1);
    await waitFor(
      () =>
        last("fb-1")?.eventId !== outcomeOf("fb-1")[0]?.eventId &&
        outcomeOf("fb-2").some((o) => o.type === "SendFailed") &&
        outcomeOf("fb-3").some((o) => o.type === "SendFailed"),
      { timeoutMs: 20_000, description: "the final outcomes" },
    );
    await new Promise((r) => setTimeout(r, 1_500));
    // The text, then its template fallback: two calls, the second a template.
    const received = callsTo(withFallback);
    expect(received.map((m) => m.type)).toEqual(["text", "template"]);
    const finals = outcomeOf("fb-1").filter(
      (o, i, all) => all.findIndex((x) => x.eventId === o.eventId) === i,
    );
    expect(finals.map((o) => o.type)).toEqual(["SendAccepted", "SendAccepted"]);
    expect(finals[1]).toMatchObject({
      data: {
        usedTemplateFallback: true,
        wamid: received[1]?.wamid,
        fallbackAfter: { wamid: received[0]?.wamid, code: 131047 },
      },
    });
    expect(last("fb-2")).toMatchObject({
      type: "SendFailed",
      data: { phase: "async", error: { code: 131047, errorClass: "window_closed" } },
    });
    expect(callsTo(without)).toHaveLength(1);
    expect(last("fb-3")).toMatchObject({
      type: "SendFailed",
      data: {
        phase: "async",
        wamid: callsTo(optedOut)[0]?.wamid,
        error: { code: 131047 },
      },
    });
    const notSent = last("fb-3") as EventOf<"SendFailed"> | undefined;
    expect(notSent?.data.error.details).toContain("template fallback was not sent");
    expect(callsTo(optedOut)).toHaveLength(1);
  }, 60_000);
  it("a new owner of a number (a restart mid-debt) seeds each recipient's pacing debt from MongoDB: nothing more to it before Meta allows, no 131056 under Meta's borrowing rule", async () => {
    // The simulator enforces Meta's rule. A burst of 4 to A owes Meta 24 s from its first send;
    // the number changes hands once the burst's 6 s window has closed. A new owner that kept
    // the debt only in the old owner's memory would send at once and get 131056.
    const A = "15553200001";
    const started = Date.now();
    const burst = [0, 1, 2, 3].map((n) => dispatch(SLOW, `handover-a-${n}`, A));
    await publish(burst);
    await settled(burst.map((d) => d.data.requestId));
    await sender.stop();
    const first = callsTo(A)[0]?.acceptedAt ?? 0;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, first + 6_500 - Date.now())));
    await startSender();
    const later = [4, 5].map((n) => dispatch(SLOW, `handover-a-${n}`, A));
    const other = dispatch(SLOW, "handover-b-0", "15553200002");
    await publish([...later, other]);
    await settled([other.data.requestId]);
    await settled(
      later.map((d) => d.data.requestId),
      45_000,
    );
    const times = callsTo(A).map((m) => m.acceptedAt);
    expect(times).toHaveLength(6);
    // The new owner's first send to A waited for the old owner's debt; B did not wait for it.
    expect(times[4]).toBeGreaterThanOrEqual(first + 4 * 6_000);
    expect(callsTo("15553200002")[0]?.acceptedAt ?? Infinity).toBeLessThan(times[4] ?? 0);
    for (const d of [...burst, ...later, other])
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
});
