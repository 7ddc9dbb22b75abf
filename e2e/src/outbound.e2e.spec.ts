import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventOf } from "@parley/contracts";
import { waitFor } from "@parley/testkit";
import { startPathStack, type PathStack } from "./path-stack.js";
import { freePort, stopService, type ServiceProcess } from "./processes.js";

// The outbound path end to end, every part a real process or server: send requests (Kafka client
// and the HTTP send API) -> router (policy) -> dispatch -> sender -> Graph (the simulator) ->
// status webhooks -> ingress -> router -> statuses -> outcomes. Two routers and two senders share
// the work through their consumer groups; one of each leaves and a sender is killed mid-call.
const OPS_TOKEN = "e2e-outbound-ops-token";
const APP_SECRET = "e2e-outbound-app-secret";
const GRAPH_TOKEN = "e2e-outbound-graph-token";
const API_KEY = "e2e-outbound-api-key-0123456789";
const WABA = "102290129340301";
/** Default limits: 80 msg/s, pair pacing 45 then one per 6 s. */
const FAST = "106540352242931";
/** Pair pacing of 2 then one per 10 s: a third message to a recipient waits in the sender. */
const PACED = "106540352242932";

const NUMBERS = JSON.stringify({
  numbers: [
    { phoneNumberId: FAST, wabaId: WABA, aliases: ["orders"], accessToken: GRAPH_TOKEN },
    {
      phoneNumberId: PACED,
      wabaId: WABA,
      aliases: ["paced"],
      pairPacing: { burst: 2, refillMs: 10_000 },
      accessToken: GRAPH_TOKEN,
    },
  ],
});

let parley: PathStack;
let sendApiPort = 0;
const processes: ServiceProcess[] = [];

async function start(name: "ingress" | "router" | "sender", own: Record<string, string> = {}) {
  const service = await parley.start(name, own);
  processes.push(service);
  return service;
}

const bodiesReceived = (waId: string): string[] =>
  parley.sim.received(waId).map((m) => {
    const message = m.message as { text?: { body?: string } };
    return message.text?.body ?? `(${m.type})`;
  });

beforeAll(async () => {
  parley = await startPathStack({
    name: "outbound",
    opsToken: OPS_TOKEN,
    appSecret: APP_SECRET,
    graphToken: GRAPH_TOKEN,
    numbers: NUMBERS,
    read: ["send-outcomes", "statuses", "conversation-windows", "consent"],
    simulator: {
      seed: "e2e-outbound",
      // Meta's borrowing rule (the simulator's default): a new owner after a rebalance or a kill
      // seeds each recipient's debt from the attempt store (ADR 0006, "Pair pacing"), so these
      // flows across rebalances send to no recipient sooner than Meta allows (issue 21).
      businesses: [
        {
          wabaId: WABA,
          phoneNumbers: [
            { id: FAST, displayPhoneNumber: "15550100931" },
            { id: PACED, displayPhoneNumber: "15550100932" },
          ],
        },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000, 4_000], retryTimeScale: 1 },
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
    },
  });
  sendApiPort = await freePort();
  await start("ingress", {
    SEND_API_PORT: String(sendApiPort),
    SEND_API_KEYS: JSON.stringify([
      {
        id: "orders",
        keySha256: createHash("sha256").update(API_KEY).digest("hex"),
        scopes: ["messages:send", "messages:read"],
        requester: "orders",
      },
    ]),
  });
  await start("router");
  await start("sender");
}, 420_000);

afterAll(async () => {
  await parley.stop();
}, 120_000);

describe("outbound path: send request -> router -> sender -> Graph -> outcome", () => {
  it("accepts a send over the HTTP API, calls Graph once and links the status back to the request", async () => {
    const waId = "16505550101";
    await parley.openWindow(waId, FAST);
    const post = () =>
      fetch(`http://127.0.0.1:${String(sendApiPort)}/v1/messages`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${API_KEY}`,
          "content-type": "application/json",
          "idempotency-key": "orders-1-confirmation",
        },
        body: JSON.stringify({
          contactId: waId,
          recipient: { phone: `+${waId}` },
          sender: { kind: "alias", alias: "orders" },
          content: { type: "text", text: { body: "Your order 1 is confirmed" } },
          category: "utility",
        }),
      });
    const first = await post();
    expect(first.status).toBe(202);
    const { requestId } = (await first.json()) as { requestId: string };
    // The caller's retry: the same request id, nothing sent twice.
    const again = await post();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { requestId: string }).requestId).toBe(requestId);

    await waitFor(() => parley.terminalOf(requestId).length > 0, {
      timeoutMs: 30_000,
      description: "an outcome for the HTTP request",
    });
    const [outcome] = parley.terminalOf(requestId);
    expect(outcome?.type).toBe("SendAccepted");
    const { wamid } = (outcome as EventOf<"SendAccepted">).data;
    const received = parley.sim.received(waId);
    expect(received.map((m) => [m.wamid, m.callbackData])).toEqual([[wamid, requestId]]);
    // Meta's status webhook comes back through ingress and the router, naming the request.
    await waitFor(
      () =>
        parley.seen.some(
          (e) =>
            e.type === "StatusUpdated" &&
            e.data.wamid === wamid &&
            e.data.bizOpaqueCallbackData === requestId,
        ),
      { timeoutMs: 30_000, description: "the sent status, linked to the request" },
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(parley.terminalOf(requestId)).toHaveLength(1);
    expect(parley.sim.received(waId)).toHaveLength(1);
  });

  it("keeps each contact's order, at most once, while routers and senders join and leave", async () => {
    const contacts = Array.from({ length: 6 }, (_, i) => `1650555020${String(i)}`);
    for (const waId of contacts) await parley.openWindow(waId, FAST);
    const requests = new Map<string, string[]>();
    const publish = async (from: number, to: number): Promise<void> => {
      await Promise.all(
        contacts.map(async (waId) => {
          for (let i = from; i < to; i++) {
            const body = `${waId} #${String(i).padStart(2, "0")}`;
            const { requestId } = await parley.client.requestSend({
              idempotencyKey: `order-${body}`,
              contactId: waId,
              recipient: { phone: waId },
              sender: { kind: "businessNumber", phoneNumberId: FAST },
              content: { type: "text", text: { body } },
              category: "utility",
            });
            requests.set(waId, [...(requests.get(waId) ?? []), requestId]);
          }
        }),
      );
    };

    await publish(0, 4);
    // A second router and sender join: the groups rebalance while requests flow.
    const [router2, sender2] = await Promise.all([start("router"), start("sender")]);
    await publish(4, 8);
    // The first ones leave (graceful): another rebalance, the newcomers own everything.
    const [router1, sender1] = [
      processes.find((p) => p.name === "router-1"),
      processes.find((p) => p.name === "sender-1"),
    ];
    const [, ...leftWith] = await Promise.all([
      publish(8, 12),
      router1 && stopService(router1, "SIGTERM"),
      sender1 && stopService(sender1, "SIGTERM"),
    ]);
    // They left on their own: stopService's SIGKILL fallback would show here as null.
    expect(leftWith).toEqual([0, 0]);
    expect(router2.child.exitCode).toBeNull();
    expect(sender2.child.exitCode).toBeNull();

    const all = [...requests.values()].flat();
    await waitFor(() => all.every((id) => parley.terminalOf(id).length > 0), {
      timeoutMs: 180_000,
      intervalMs: 250,
      description: `an outcome for each of ${String(all.length)} requests`,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    for (const id of all) {
      expect(parley.terminalOf(id).map((e) => e.type)).toEqual(["SendAccepted"]);
    }
    for (const waId of contacts) {
      const expected = Array.from(
        { length: 12 },
        (_, i) => `${waId} #${String(i).padStart(2, "0")}`,
      );
      // Exactly once each, in the order requested.
      expect(bodiesReceived(waId)).toEqual(expected);
    }
    const stats = parley.sim.stats().find((s) => s.phoneNumberId === FAST);
    expect(stats?.maxAcceptedInAnySecond).toBeLessThanOrEqual(80);
    expect(stats?.rejectedByCode).toEqual({});
    expect(parley.sim.pairPacing({ phoneNumberId: FAST }).every((p) => p.ok)).toBe(true);
  }, 300_000);

  it("never resends a call cut short by a crash: the request is in doubt, then reconciled from its status webhook", async () => {
    const waId = "16505550301";
    await parley.openWindow(waId, FAST);
    // Graph takes the message at once but holds its answer back: the sender dies waiting.
    parley.sim.scriptFaults([{ kind: "delay", ms: 5_000 }], { endpoint: "messages" });
    const { requestId } = await parley.client.requestSend({
      idempotencyKey: "crash-1",
      contactId: waId,
      recipient: { phone: waId },
      sender: { kind: "alias", alias: "orders" },
      content: { type: "text", text: { body: "sent exactly once" } },
      category: "utility",
    });
    await waitFor(() => parley.sim.received(waId).length === 1, {
      timeoutMs: 30_000,
      description: "the Graph call in flight",
    });
    const running = processes.filter(
      (p) =>
        p.name.startsWith("sender") && p.child.exitCode === null && p.child.signalCode === null,
    );
    await Promise.all(running.map((p) => stopService(p, "SIGKILL")));
    await start("sender");

    await waitFor(() => parley.terminalOf(requestId).length > 0, {
      timeoutMs: 60_000,
      description: "the in-doubt request reconciled",
    });
    // SendInDoubt (the dispatch record's transaction) and SendReconciled (the status record's)
    // commit independently, so a reader may see them in either order (ADR 0009: outcomes are
    // read by wamid, not by order); both come, once each.
    await waitFor(() => parley.outcomesOf(requestId).some((e) => e.type === "SendInDoubt"), {
      timeoutMs: 15_000,
      description: "the request's SendInDoubt",
    });
    const types = parley.outcomesOf(requestId).map((e) => e.type);
    expect([...types].sort()).toEqual(["SendInDoubt", "SendReconciled"]);
    const reconciled = parley.terminalOf(requestId)[0] as EventOf<"SendReconciled">;
    expect(reconciled.data.wamid).toBe(parley.sim.received(waId)[0]?.wamid);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(parley.sim.received(waId)).toHaveLength(1);
  }, 180_000);

  it("stops a send waiting in the sender when the contact opts out meanwhile", async () => {
    const waId = "16505550401";
    await parley.openWindow(waId, PACED);
    const send = (i: number) =>
      parley.client.requestSend({
        idempotencyKey: `paced-${String(i)}`,
        contactId: waId,
        recipient: { phone: waId },
        sender: { kind: "alias", alias: "paced" },
        content: { type: "text", text: { body: `update ${String(i)}` } },
        category: "utility",
      });
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await send(i)).requestId);
    // Two leave at once (the pair burst); the third waits out the pacing in the sender.
    await waitFor(() => parley.sim.received(waId).length === 2, {
      timeoutMs: 30_000,
      description: "the pair burst sent",
    });
    parley.sim.userSends(waId, { type: "text", body: "Stop" }, { phoneNumberId: PACED });
    await waitFor(
      () => parley.seen.some((e) => e.type === "ConsentRevoked" && e.data.contactId === waId),
      {
        timeoutMs: 30_000,
        description: "the opt-out recorded",
      },
    );
    const third = ids[2] ?? "";
    // Meta's borrowing: the burst of two is repaid 2 x 10 s after it, and only then is the third
    // judged (and refused: the opt-out came meanwhile).
    await waitFor(() => parley.terminalOf(third).length > 0, {
      timeoutMs: 70_000,
      description: "the waiting send's outcome",
    });
    expect(parley.terminalOf(third)[0]).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out" },
    });
    // Requested after the opt-out: refused before reaching the sender.
    const fourth = (await send(4)).requestId;
    await waitFor(() => parley.terminalOf(fourth).length > 0, { timeoutMs: 30_000 });
    expect(parley.terminalOf(fourth)[0]).toMatchObject({
      type: "SendRejected",
      data: { reason: "opted_out" },
    });
    expect(bodiesReceived(waId)).toEqual(["update 1", "update 2"]);
    expect(
      parley.sim.pairPacing({ phoneNumberId: PACED, to: waId, burst: 2, refillMs: 10_000 })[0]?.ok,
    ).toBe(true);
  });
});
