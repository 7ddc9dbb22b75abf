import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@parley/testkit";
import {
  addOrderUpdateTemplate,
  requestTemplateRounds,
  startPathStack,
  type PathStack,
} from "./path-stack.js";
import { stopService, type ServiceProcess } from "./processes.js";

// Issue 30, item 1: a sender killed (SIGKILL) while hundreds of dispatches wait for their rate
// slots. Each of them was claimed; none had called. The next sender must send every one of
// them exactly once, and judge in doubt only the calls that had really left (and reconcile each
// from its status webhook). Every part is a real process or server; Meta is the simulator.
const OPS_TOKEN = "e2e-crash-ops-token";
const APP_SECRET = "e2e-crash-app-secret";
const GRAPH_TOKEN = "e2e-crash-graph-token";
const WABA = "102290129340501";
/** 50 msg/s: 600 requests are a 12 s backlog. */
const NUMBER = "106540352242951";
const MPS = 50;
const CONTACTS = 200;
const PER_CONTACT = 3;

let parley: PathStack;
const processes: ServiceProcess[] = [];

const callsFor = (requestId: string) =>
  parley.sim.messages({ phoneNumberId: NUMBER }).filter((m) => m.callbackData === requestId);

async function start(name: "ingress" | "router" | "sender") {
  const service = await parley.start(name);
  processes.push(service);
  return service;
}

beforeAll(async () => {
  parley = await startPathStack({
    name: "sender-crash",
    opsToken: OPS_TOKEN,
    appSecret: APP_SECRET,
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, mps: MPS, accessToken: GRAPH_TOKEN }],
    }),
    read: ["send-outcomes"],
    partitions: { business: 2 },
    simulator: {
      seed: "e2e-sender-crash",
      businesses: [
        {
          wabaId: WABA,
          phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100951", throughputMps: MPS }],
        },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000, 4_000], retryTimeScale: 1 },
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
      // Each send is taken at once and answered 300 ms later: about 15 calls are always out.
      faults: { latency: { kind: "fixed", ms: 300 } },
      retainMessages: 10_000,
    },
  });
  addOrderUpdateTemplate(parley.sim, WABA);
  await start("ingress");
  await start("router");
  await start("sender");
}, 600_000);

afterAll(async () => {
  await parley.stop();
}, 120_000);

describe("a sender killed while hundreds of dispatches wait for their rate slots", () => {
  it("sends every one exactly once after the restart; only calls that had left are in doubt, each reconciled from its status webhook", async () => {
    const requests = await requestTemplateRounds(parley.client, {
      keyPrefix: "crash",
      firstContact: 16_505_700_000,
      contacts: CONTACTS,
      rounds: PER_CONTACT,
      phoneNumberId: NUMBER,
    });
    const total = CONTACTS * PER_CONTACT;
    // A backlog: the sender took them all, and sends 50 a second.
    await waitFor(() => parley.sim.messages({ phoneNumberId: NUMBER }).length >= 100, {
      timeoutMs: 120_000,
      intervalMs: 50,
      description: "the first hundred sent",
    });
    const sender = processes.find((p) => p.name === "sender-1");
    if (!sender) throw new Error("no sender");
    await stopService(sender, "SIGKILL");
    const sentBeforeKill = parley.sim.messages({ phoneNumberId: NUMBER }).length;
    // Hundreds were waiting for their slot (claimed, never called) when it died.
    expect(total - sentBeforeKill).toBeGreaterThanOrEqual(300);
    await start("sender");

    // On a timeout the problems below say which requests lack what (calls, outcomes seen).
    await waitFor(() => requests.every((id) => parley.terminalOf(id).length > 0), {
      timeoutMs: 300_000,
      intervalMs: 500,
      description: `a terminal outcome for each of ${String(total)} requests`,
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 3_000));

    const inDoubt = requests.filter((id) =>
      parley.outcomesOf(id).some((e) => e.type === "SendInDoubt"),
    );
    const problems: string[] = [];
    for (const id of requests) {
      const calls = callsFor(id);
      const terminal = parley.terminalOf(id);
      // Sent exactly once, one terminal outcome.
      if (calls.length !== 1) problems.push(`${id}: ${String(calls.length)} Graph calls`);
      if (terminal.length !== 1)
        problems.push(
          `${id}: ${String(terminal.length)} terminal outcomes (seen: ${parley
            .outcomesOf(id)
            .map((e) => e.type)
            .join(", ")}; ${String(calls.length)} calls)`,
        );
      const [final] = terminal;
      if (inDoubt.includes(id)) {
        // In doubt only if its call had really left, and reconciled from its status webhook.
        if (final?.type !== "SendReconciled")
          problems.push(`${id}: in doubt, then ${final?.type ?? "nothing"}`);
        else if (final.data.wamid !== calls[0]?.wamid)
          problems.push(`${id}: reconciled with another wamid`);
      } else if (final?.type !== "SendAccepted") problems.push(`${id}: ${final?.type ?? "none"}`);
    }
    expect(problems).toEqual([]);
    // Only the calls that were out when it died: a fraction of what was in flight then.
    expect(inDoubt.length).toBeLessThanOrEqual(40);
    const stats = parley.sim.stats().find((s) => s.phoneNumberId === NUMBER);
    expect(stats?.accepted).toBe(total);
    expect(stats?.maxAcceptedInAnySecond).toBeLessThanOrEqual(MPS);
    expect(stats?.rejectedByCode).toEqual({});
  }, 600_000);
});
