import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEvent, exampleData, type EventOf } from "@parley/contracts";
import { createMongo } from "@parley/mongo";
import { waitFor } from "@parley/testkit";
import { startPathStack, type PathStack } from "./path-stack.js";
import { freePort, stopService, type ServiceProcess } from "./processes.js";

// Issue 27, must show: campaigns end to end with the simulator. Every part is a process or a real
// server (ingress, router, sender, campaigns; Kafka, the registry, MongoDB); Meta is the simulator.
//
// 1. "pause": a campaign on a slow number; the simulator pauses its template mid-campaign
//    (message_template_status_update PAUSED, through ingress and the router to business-events);
//    the campaign pauses and releases nothing more; the template approved again and the campaign
//    resumed, the rest goes out, each recipient at most once.
// 2. "flash": CAMPAIGN_E2E_RECIPIENTS rows (2,000 in make test, 10,000 in make campaigns-e2e) across two numbers with different
//    caps (200 and 100 msg/s), with opted-out, capped (reached by campaign 1, frequency cap 1 in
//    7 days), invalid and duplicate rows. The campaigns service is killed (SIGKILL) mid-plan and
//    mid-send and restarted. The simulator's log must hold exactly the expected recipients, once
//    each, each number under its cap in every sliding second; the plan report (counters and the
//    skips listed by the API) must match the simulator's log.
const WABA = "102290129340327";
const FAST = "106540352242827";
const SLOW_CAP = "106540352242828";
const PAUSE_NUMBER = "106540352242829";
const CAPS = { [FAST]: 200, [SLOW_CAP]: 100, [PAUSE_NUMBER]: 10 } as const;
const GRAPH_TOKEN = "e2e-campaigns-graph-token";
const OPS_TOKEN = "e2e-campaigns-ops-token";
const API_KEY = "e2e-campaigns-api-key-0123456789";
/**
 * Rows of campaign 2: 2,000 in make test (the CI budget), 10,000 for the figure with
 * `make campaigns-e2e` (CAMPAIGN_E2E_RECIPIENTS=10000).
 */
const N = Number(process.env["CAMPAIGN_E2E_RECIPIENTS"] ?? 2_000);
/** Campaign 1's audience: the first P clean rows of campaign 2 (they are capped there). */
const P = Math.min(200, Math.floor(N / 10));
const T1 = "spring_reminder";
const T2 = "flash_sale";

const phoneOf = (i: number) => `34612${String(i).padStart(6, "0")}`;
/** Row i of campaign 2's audience and what the plan must decide for it. */
const isDuplicate = (i: number) => i % 41 === 40;
const isInvalid = (i: number) => i % 53 === 52;
const isOptedOut = (i: number) => i % 17 === 3;
const clean = (i: number) => !isDuplicate(i) && !isInvalid(i) && !isOptedOut(i);
const rowPhone = (i: number) =>
  isInvalid(i)
    ? `+999${String(i).padStart(8, "0")}`
    : isDuplicate(i)
      ? // The row before, spelt another way: the same contact.
        `+34 612 ${String(i - 1).padStart(6, "0")}`
      : `+${phoneOf(i)}`;
/** Campaign 1's recipients: the first P rows that are clean. */
const pauseAudience = Array.from({ length: N }, (_, i) => i)
  .filter(clean)
  .slice(0, P);
const capped = new Set(pauseAudience.map(phoneOf));
/** Rows whose contact opted out (ConsentRevoked, scope all, published before the plans). */
const optedOutRows = Array.from({ length: N }, (_, i) => i).filter(
  (i) => isOptedOut(i) && !isInvalid(i) && !isDuplicate(i),
);
const revoked = new Set(optedOutRows.map(phoneOf));

let parley: PathStack;
let campaigns: ServiceProcess | undefined;
let apiPort = 0;
let audienceDir = "";
let mongo: ReturnType<typeof createMongo>;
const timings: string[] = [];
const t0 = Date.now();
const mark = (what: string) => timings.push(`${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`);

async function api(method: string, path: string, body?: string, type = "application/json") {
  const res = await fetch(`http://127.0.0.1:${String(apiPort)}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { "content-type": type }),
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${String(res.status)} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

interface Progress {
  campaign: { status: string; pausedBy?: { reason: string } };
  plan?: {
    counters: {
      next: number;
      planned: number;
      skipped: Record<string, number>;
      perNumber: number[];
    };
    complete: boolean;
  };
  queued: number;
}
const progressOf = async (id: string) =>
  (await api("GET", `/v1/campaigns/${id}`)) as unknown as Progress;

async function startCampaigns(): Promise<ServiceProcess> {
  campaigns = await parley.start("campaigns", {
    CAMPAIGNS_API_PORT: String(apiPort),
    CAMPAIGNS_API_KEYS: JSON.stringify([
      {
        id: "e2e",
        keySha256: createHash("sha256").update(API_KEY).digest("hex"),
        scopes: ["read", "write", "control"],
      },
    ]),
    CAMPAIGNS_AUDIENCE_DIR: audienceDir,
    CAMPAIGNS_MESSAGING_LIMIT: "unlimited",
    // Small chunks and a short tick: the plan takes long enough to be killed in the middle.
    CAMPAIGNS_PLAN_CHUNK: "100",
    CAMPAIGNS_TICK_MS: "500",
  });
  return campaigns;
}

const sent = (template: string) =>
  parley.sim
    .messages()
    .filter((m) => m.message.type === "template" && m.message.template.name === template);
const requestsOf = (campaignId: string) =>
  parley.seen.filter(
    (e): e is EventOf<"SendRequested"> =>
      e.type === "SendRequested" && e.data.metadata?.["campaignId"] === campaignId,
  );

const definition = (id: string, template: string, numbers: string[], cap?: boolean) =>
  JSON.stringify({
    id,
    owner: "marketing",
    template: { name: template, language: { code: "es" } },
    category: "utility",
    bodyParameters: ["first_name"],
    numbers,
    schedule: { startAt: new Date(Date.now() - 60_000).toISOString() },
    ...(cap === true ? { frequencyCap: { max: 1, days: 7 } } : {}),
  });

beforeAll(async () => {
  audienceDir = await mkdtemp(join(tmpdir(), "e2e-campaigns-"));
  apiPort = await freePort();
  parley = await startPathStack({
    name: "campaigns",
    opsToken: OPS_TOKEN,
    appSecret: "e2e-campaigns-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: Object.entries(CAPS).map(([id, mps]) => ({
        phoneNumberId: id,
        wabaId: WABA,
        mps,
        accessToken: GRAPH_TOKEN,
      })),
    }),
    simulator: {
      seed: "e2e-campaigns",
      businesses: [
        {
          wabaId: WABA,
          phoneNumbers: Object.entries(CAPS).map(([id, mps], i) => ({
            id,
            displayPhoneNumber: `1555010082${String(i)}`,
            throughputMps: mps,
          })),
        },
      ],
      webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000, 4_000], retryTimeScale: 1 },
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
      retainMessages: 50_000,
    },
    read: ["send-requests", "business-events", "send-outcomes"],
  });
  for (const name of [T1, T2]) {
    parley.sim.addTemplate({
      wabaId: WABA,
      name,
      language: "es",
      category: "UTILITY",
      status: "APPROVED",
      parameterFormat: "NAMED",
      body: "Hola {{first_name}}, hay novedades.",
    });
  }
  mongo = createMongo({
    url: parley.stack.mongoUrl,
    database: parley.ns.database(),
    appName: `${parley.ns.id}-e2e`,
  });
  // Opt-outs as the consent service publishes them (scope "all": every purpose, utility included).
  await parley.publish(
    optedOutRows.map((i) =>
      createEvent(
        "ConsentRevoked",
        { ...exampleData.ConsentRevoked, contactId: phoneOf(i), scope: "all" },
        { correlationId: `opt-out-${String(i)}`, now: new Date(Date.now() - 86_400_000) },
      ),
    ),
  );
  await parley.start("ingress");
  await parley.start("router", { ROUTER_TEMPLATE_CACHE_MS: "500" });
  await parley.start("sender");
  await startCampaigns();
  await waitFor(
    async () => (await mongo.db.collection("campaign_contacts").countDocuments()) === revoked.size,
    { timeoutMs: 60_000, description: "opt-outs folded by campaigns" },
  );
  mark("stack up");
}, 420_000);

afterAll(async () => {
  console.log(`campaigns e2e (N=${String(N)}):\n  ${timings.join("\n  ")}`);
  // Either may be unset when the set-up failed half way.
  await (mongo as typeof mongo | undefined)?.close();
  await (parley as PathStack | undefined)?.stop();
  await rm(audienceDir, { recursive: true, force: true });
}, 120_000);

describe("campaigns end to end with the simulator", () => {
  it("a template paused by Meta mid-campaign pauses it; nothing more is released until it is resumed after approval", async () => {
    await api("POST", "/v1/campaigns", definition("spring", T1, [PAUSE_NUMBER]));
    const csv = ["phone,first_name", ...pauseAudience.map((i) => `+${phoneOf(i)},C${String(i)}`)];
    await api("PUT", "/v1/campaigns/spring/audience?format=csv", csv.join("\n") + "\n", "text/csv");
    await api("POST", "/v1/campaigns/spring/start");
    await waitFor(() => sent(T1).length >= P / 10, {
      timeoutMs: 120_000,
      description: "a tenth of campaign 1 sent",
    });
    parley.sim.setTemplateStatus(T1, "es", "PAUSED", WABA);
    mark(`template paused after ${String(sent(T1).length)} sends`);
    await waitFor(async () => (await progressOf("spring")).campaign.status === "paused", {
      timeoutMs: 90_000,
      intervalMs: 100,
      description: "campaign 1 paused by Meta's signal",
    });
    const progress = await progressOf("spring");
    expect(progress.campaign.pausedBy?.reason).toMatch(/^template_(paused|failures)$/);
    // One tick in flight at most, then nothing more is released while paused.
    await new Promise((r) => setTimeout(r, 1_000));
    const releasedAtPause = new Set(requestsOf("spring").map((e) => e.correlationId)).size;
    const acceptedAtPause = sent(T1).length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(new Set(requestsOf("spring").map((e) => e.correlationId)).size).toBe(releasedAtPause);
    expect(sent(T1).length).toBe(acceptedAtPause);
    expect(releasedAtPause).toBeLessThan(P);
    mark(`paused: ${String(releasedAtPause)} released, held 3 s`);

    parley.sim.setTemplateStatus(T1, "es", "APPROVED", WABA);
    await waitFor(
      () =>
        parley.seen.some(
          (e) =>
            e.type === "TemplateStatusUpdated" &&
            e.data.templateName === T1 &&
            e.data.event === "APPROVED",
        ),
      { timeoutMs: 90_000, description: "the approval on business-events" },
    );
    // The router refuses a paused template itself: resume once its catalog (MongoDB, then its
    // memory copy of ROUTER_TEMPLATE_CACHE_MS) has the approval, as an operator would check.
    const catalogs = mongo.db.collection<{
      _id: string;
      templates: { name: string; status: string }[];
    }>("router_template_catalogs");
    await waitFor(
      async () =>
        (await catalogs.findOne({ _id: WABA }))?.templates.find((t) => t.name === T1)?.status ===
        "APPROVED",
      { timeoutMs: 90_000, description: "the router's catalog has the approval" },
    );
    await new Promise((r) => setTimeout(r, 1_500));
    await api("POST", "/v1/campaigns/spring/resume");
    await waitFor(async () => (await progressOf("spring")).campaign.status === "completed", {
      timeoutMs: 120_000,
      description: "campaign 1 done",
    });
    const released = new Set(requestsOf("spring").map((e) => e.correlationId));
    expect(released.size).toBe(P);
    // Every request settles: accepted by the simulator, or refused (Meta's 132015 while the
    // template was paused: a failed send, not sent again).
    const refusedOf = () => {
      const outcomes = new Map<string, number>();
      const ids = new Set<string>();
      for (const e of parley.seen) {
        if (!released.has(e.correlationId) || !/^Send(Rejected|Failed)$/.test(e.type)) continue;
        if (ids.has(e.correlationId)) continue;
        ids.add(e.correlationId);
        const data = e.data as { reason?: string; error?: { code?: number } };
        const key = `${e.type} ${data.reason ?? String(data.error?.code ?? "")}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      return { n: ids.size, outcomes };
    };
    await waitFor(() => sent(T1).length + refusedOf().n >= P, {
      timeoutMs: 120_000,
      description: "campaign 1's requests settled",
    });
    const got = sent(T1).map((m) => m.waId);
    expect(new Set(got).size).toBe(got.length);
    for (const w of got) expect(capped.has(w)).toBe(true);
    // Everyone released after the resume got the message.
    expect(got.length).toBeGreaterThanOrEqual(acceptedAtPause + P - releasedAtPause);
    const { outcomes } = refusedOf();
    mark(
      `campaign 1 done: ${String(got.length)} of ${String(P)} accepted (${String(acceptedAtPause)} before the pause, ${String(P - releasedAtPause)} released after the resume); refused: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
  }, 300_000);

  it("N rows (10,000 in the long run) over two numbers through two SIGKILLs: exactly the expected sends, once each, each number under its cap; the plan report equals the simulator's log", async () => {
    // What the plan must decide, row by row, in the planner's order of checks.
    const expected = new Set<string>();
    const reasons = new Map<number, string>();
    const seenContacts = new Set<string>();
    for (let i = 0; i < N; i++) {
      if (isInvalid(i)) {
        reasons.set(i, "invalid_number");
        continue;
      }
      const contact = phoneOf(isDuplicate(i) ? i - 1 : i);
      if (seenContacts.has(contact)) reasons.set(i, "duplicate");
      else if (revoked.has(contact)) reasons.set(i, "opted_out");
      else if (capped.has(contact)) reasons.set(i, "frequency_cap");
      else expected.add(contact);
      seenContacts.add(contact);
    }
    await api("POST", "/v1/campaigns", definition("flash", T2, [FAST, SLOW_CAP], true));
    const csv = [
      "phone,first_name",
      ...Array.from({ length: N }, (_, i) => `${rowPhone(i)},C${String(i)}`),
    ];
    await api("PUT", "/v1/campaigns/flash/audience?format=csv", csv.join("\n") + "\n", "text/csv");
    parley.sim.resetStats();
    await api("POST", "/v1/campaigns/flash/start");
    mark("campaign 2 started");

    // Killed mid-plan: a checkpoint past a fifth of the rows, the plan not complete.
    const plans = mongo.db.collection<{
      _id: string;
      counters: { next: number };
      complete: boolean;
    }>("campaign_plans");
    await waitFor(
      async () => ((await plans.findOne({ _id: "flash" }))?.counters.next ?? 0) >= N / 5,
      { timeoutMs: 60_000, intervalMs: 20, description: "a fifth of the plan" },
    );
    await stopService(campaigns as ServiceProcess, "SIGKILL");
    const atKill = await plans.findOne({ _id: "flash" });
    expect(atKill?.complete).toBe(false);
    mark(`killed mid-plan at row ${String(atKill?.counters.next)}`);
    await startCampaigns();
    mark("restarted");

    // Killed mid-send: two fifths of the expected sends accepted by the simulator.
    await waitFor(() => sent(T2).length >= (expected.size * 2) / 5, {
      timeoutMs: 180_000,
      intervalMs: 50,
      description: "two fifths sent",
    });
    await stopService(campaigns as ServiceProcess, "SIGKILL");
    mark(`killed mid-send after ${String(sent(T2).length)} sends`);
    await startCampaigns();
    mark("restarted");

    await waitFor(async () => (await progressOf("flash")).campaign.status === "completed", {
      timeoutMs: 180_000,
      intervalMs: 500,
      description: "campaign 2 done",
    });
    await waitFor(() => sent(T2).length >= expected.size, {
      timeoutMs: 60_000,
      description: "every expected send accepted",
    });
    // A moment for anything that should not come.
    await new Promise((r) => setTimeout(r, 1_000));
    mark(`campaign 2 done: ${String(sent(T2).length)} sends`);

    // Exactly the expected recipients, once each.
    const messages = sent(T2);
    const got = messages.map((m) => m.waId);
    expect(got.length).toBe(expected.size);
    expect(new Set(got)).toEqual(expected);

    // Each number under its cap in every sliding second, as the simulator saw it.
    const perNumber = new Map<string, number[]>();
    for (const m of messages) {
      const list = perNumber.get(m.phoneNumberId) ?? [];
      list.push(m.acceptedAt);
      perNumber.set(m.phoneNumberId, list);
    }
    for (const [id, times] of perNumber) {
      times.sort((a, b) => a - b);
      let peak = 0;
      for (let a = 0, b = 0; b < times.length; b++) {
        while ((times[b] ?? 0) - (times[a] ?? 0) >= 1_000) a++;
        peak = Math.max(peak, b - a + 1);
      }
      expect(peak).toBeLessThanOrEqual(CAPS[id as keyof typeof CAPS]);
    }
    expect(parley.sim.rejections().filter((r) => r.code === 130429)).toEqual([]);

    // The plan report equals the simulator's log.
    const progress = await progressOf("flash");
    const counters = progress.plan?.counters;
    expect(progress.plan?.complete).toBe(true);
    expect(counters?.planned).toBe(got.length);
    expect(counters?.perNumber).toEqual([
      perNumber.get(FAST)?.length ?? 0,
      perNumber.get(SLOW_CAP)?.length ?? 0,
    ]);
    const expectedSkips: Record<string, number> = {};
    for (const r of reasons.values()) expectedSkips[r] = (expectedSkips[r] ?? 0) + 1;
    expect(counters?.skipped).toEqual(expectedSkips);
    const listed = new Map<number, string>();
    for (let after = -1; ;) {
      const page = (await api(
        "GET",
        `/v1/campaigns/flash/skips?after=${String(after)}&limit=1000`,
      )) as {
        items: { index: number; reason: string }[];
        next?: number;
      };
      for (const s of page.items) listed.set(s.index, s.reason);
      if (page.next === undefined) break;
      after = page.next;
    }
    expect(listed).toEqual(reasons);
    // The spread follows the caps (2:1) within one.
    expect(
      Math.abs((counters?.perNumber[0] ?? 0) - 2 * (counters?.perNumber[1] ?? 0)),
    ).toBeLessThanOrEqual(2);
    // A repeated request (the kill mid-send) is the same request: the router deduplicated it.
    const requests = requestsOf("flash");
    const ids = new Set(requests.map((e) => e.correlationId));
    expect(ids.size).toBe(expected.size);
    mark(`${String(requests.length - ids.size)} requests published again, none sent twice`);
  }, 300_000);
});
