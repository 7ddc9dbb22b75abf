// Back in seconds, at the service level (issue 30, docs/benchmarks.md "Service recovery after
// kill -9"): ingress, router and sender as processes against Kafka, the registry, MongoDB and the
// Cloud API simulator, under a bounded load (BENCH_SENDS_PER_S send requests through
// @parley/client and BENCH_WEBHOOKS_PER_S signed user-message webhooks through ingress; the
// sends' status webhooks come on top). Per case, the router or the sender is started with the
// case's group settings, the load runs BENCH_SETTLE_S, the process is killed with SIGKILL and
// started again after 0 or 5 s with the same settings. Measured from the kill:
//   ready      the restarted process answers /readyz 200 (it has joined its consumer groups);
//   consuming  ready, and the killed service's consumer groups have consumed again (every
//              partition that got records since the kill has its committed offset past where it
//              was at the kill);
//   back   consuming, and the groups' lag (records not processed: end offset less committed offset less the records
//          a transactional consumer lists as finished above it) is under the threshold: twice
//          the median lag of the last 5 s before the kill, plus 50 records.
// Settings: before (KAFKA_SESSION_TIMEOUT_MS=30000, no KAFKA_GROUP_INSTANCE_ID: kafkajs's old
// default), 10 s sessions without an instance id, and 10 s sessions with static membership
// (KAFKA_GROUP_INSTANCE_ID); heartbeat 3 s in all. Every case is bounded (BENCH_CASE_TIMEOUT_S);
// everything goes to 127.0.0.1. Run with bench/service-recovery.sh.
import { loadavg } from "node:os";
import { createKafka, decodeCompleted, type KafkaClient } from "@parley/kafka";
import type { TopicId } from "@parley/contracts";
import { startPathStack, type PathStack } from "../dist/path-stack.js";
import { stopService, type ServiceProcess } from "@parley/e2e";

const SENDS_PER_S = Number(process.env["BENCH_SENDS_PER_S"] ?? "100");
const WEBHOOKS_PER_S = Number(process.env["BENCH_WEBHOOKS_PER_S"] ?? "50");
const SETTLE_S = Number(process.env["BENCH_SETTLE_S"] ?? "15");
const CASE_TIMEOUT_S = Number(process.env["BENCH_CASE_TIMEOUT_S"] ?? "90");
const CONTACTS = 2_000;
const USERS = 500;
const WABA = "102290129340391";
const NUMBER = "106540352242991";
const GRAPH_TOKEN = "bench-recovery-graph-token";
const OPS_TOKEN = "bench-recovery-ops-token";

type Target = "router" | "sender";
interface Setting {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  readonly label: string;
  readonly membership: "dynamic" | "static";
}
const before: Setting = {
  name: "before",
  label: "30 s / 3 s",
  membership: "dynamic",
  env: { KAFKA_SESSION_TIMEOUT_MS: "30000", KAFKA_HEARTBEAT_INTERVAL_MS: "3000" },
};
const dynamic10: Setting = {
  name: "dynamic-10s",
  label: "10 s / 3 s",
  membership: "dynamic",
  env: { KAFKA_SESSION_TIMEOUT_MS: "10000", KAFKA_HEARTBEAT_INTERVAL_MS: "3000" },
};
const static10: Setting = {
  name: "static-10s",
  label: "10 s / 3 s",
  membership: "static",
  env: { KAFKA_SESSION_TIMEOUT_MS: "10000", KAFKA_HEARTBEAT_INTERVAL_MS: "3000" },
};
const cases = (["router", "sender"] as const).flatMap((target) =>
  [before, dynamic10, static10].flatMap((setting) =>
    [0, 5_000].map((restartMs) => ({
      name: `${target}-${setting.name}-restart-${String(restartMs / 1_000)}s`,
      target,
      setting,
      restartMs,
    })),
  ),
);
type Case = (typeof cases)[number];
const only = (process.env["BENCH_CASES"] ?? "").split(",").filter((s) => s !== "");
for (const name of only)
  if (!cases.some((c) => c.name === name))
    throw new Error(`BENCH_CASES: no case ${name}; cases: ${cases.map((c) => c.name).join(", ")}`);
const selected = only.length === 0 ? cases : cases.filter((c) => only.includes(c.name));

/** The consumer groups of each service and the topics each reads (the catalog's consumers). */
const GROUPS: Record<Target, readonly { consumer: string; topics: readonly TopicId[] }[]> = {
  router: [
    { consumer: "router-inbound", topics: ["raw-webhooks"] },
    { consumer: "router-statuses", topics: ["raw-status-webhooks"] },
    { consumer: "router-outbound", topics: ["send-requests"] },
    { consumer: "router-gates", topics: ["consent", "conversation-windows"] },
    { consumer: "router-templates", topics: ["send-outcomes", "business-events"] },
  ],
  sender: [
    { consumer: "sender-dispatch", topics: ["dispatch"] },
    { consumer: "sender-statuses", topics: ["statuses"] },
    { consumer: "sender-gates", topics: ["consent", "conversation-windows"] },
    { consumer: "sender-numbers", topics: ["business-events"] },
  ],
};

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${line}\n`);
};
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor(s.length / 2)] ?? 0);
};

interface PartitionOffsets {
  readonly committed: number;
  readonly end: number;
  /** Records above the committed offset a transactional consumer finished (its commit's metadata). */
  readonly finishedAbove: number;
}

/** Committed and end offsets of a service's groups, per group/topic/partition. */
async function offsets(
  admin: ReturnType<KafkaClient["admin"]>,
  parley: PathStack,
  target: Target,
): Promise<Map<string, PartitionOffsets>> {
  const out = new Map<string, PartitionOffsets>();
  const ends = new Map<string, Map<number, number>>();
  for (const { consumer, topics } of GROUPS[target]) {
    const names = topics.map((t) => parley.catalog.topic(t).name);
    for (const name of names)
      if (!ends.has(name))
        ends.set(
          name,
          new Map((await admin.fetchTopicOffsets(name)).map((p) => [p.partition, Number(p.high)])),
        );
    const committed = await admin.fetchOffsets({
      groupId: `${parley.catalog.prefix}parley.${consumer}`,
      topics: names,
    });
    for (const t of committed)
      for (const p of t.partitions) {
        const end = ends.get(t.topic)?.get(p.partition) ?? 0;
        // No commit yet: nothing consumed (the group starts from the beginning).
        const at = Number(p.offset) < 0 ? 0 : Number(p.offset);
        // The sender's transactional consumers commit below a record still in progress (a call
        // waiting out its bound after a crash) and list the records finished above it.
        const finishedAbove =
          Number(p.offset) < 0
            ? 0
            : decodeCompleted(BigInt(p.offset), p.metadata?.split("~")[0]).length;
        out.set(`${consumer}/${t.topic}/${String(p.partition)}`, {
          committed: at,
          end,
          finishedAbove,
        });
      }
  }
  return out;
}
/** Records not processed yet: behind the end, less those finished above the committed offset. */
const lagOf = (o: Map<string, PartitionOffsets>): number =>
  [...o.values()].reduce((sum, p) => sum + Math.max(0, p.end - p.committed - p.finishedAbove), 0);

/** A bounded open loop: `perSecond` calls of `fire` spread over each second until stopped. */
function openLoop(perSecond: number, fire: (n: number) => Promise<unknown>) {
  let n = 0;
  let failures = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < perSecond / 10; i++) {
      // Bounded: a stalled stack does not pile up calls without limit.
      if (inFlight > perSecond * 10) {
        failures++;
        continue;
      }
      inFlight++;
      fire(n++)
        .catch(() => {
          failures++;
        })
        .finally(() => {
          inFlight--;
        });
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
    },
    get sent() {
      return n;
    },
    get failures() {
      return failures;
    },
  };
}

interface Row {
  readonly name: string;
  readonly target: Target;
  readonly setting: Setting;
  readonly restartMs: number;
  readyS: number;
  consumingS: number;
  backS: number;
  peakLag: number;
  threshold: number;
  load: string;
}

async function main(): Promise<void> {
  const parley = await startPathStack({
    name: "bench-recovery",
    opsToken: OPS_TOKEN,
    appSecret: "bench-recovery-app-secret",
    graphToken: GRAPH_TOKEN,
    numbers: JSON.stringify({
      numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, mps: 1_000, accessToken: GRAPH_TOKEN }],
    }),
    simulator: {
      seed: "bench-recovery",
      businesses: [
        {
          wabaId: WABA,
          phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100991", highThroughput: true }],
        },
      ],
      statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
      retainMessages: 1_000,
    },
    read: ["send-outcomes"],
  });
  const kafka = createKafka({
    brokers: parley.stack.kafkaBrokers,
    clientId: `${parley.ns.id}-lag`,
  });
  const admin = kafka.admin();
  await admin.connect();
  const rows: Row[] = [];
  try {
    parley.sim.addTemplate({
      wabaId: WABA,
      name: "order_update",
      language: "en_US",
      category: "UTILITY",
      status: "APPROVED",
      body: "Order {{1}} has shipped.",
    });
    for (let u = 0; u < USERS; u++) parley.sim.addUser({ waId: String(16_505_900_000 + u) });
    const running: Partial<Record<"ingress" | Target, ServiceProcess>> = {};
    running.ingress = await parley.start("ingress");
    // Cases replace the router's and the sender's process with their settings; these first
    // ones have the defaults.
    running.router = await parley.start("router");
    running.sender = await parley.start("sender");
    const instanceIds: Record<Target, string> = { router: "bench-router", sender: "bench-sender" };

    for (const c of selected) {
      progress(`case ${c.name}`);
      const env = {
        ...c.setting.env,
        ...(c.setting.membership === "static"
          ? { KAFKA_GROUP_INSTANCE_ID: instanceIds[c.target] }
          : {}),
      };
      // A graceful stop leaves the groups at once (static members included), then the case's
      // process starts with its settings.
      const previous = running[c.target];
      if (previous) await stopService(previous);
      running[c.target] = await parley.start(c.target, env);
      rows.push(await runCase(parley, admin, c, env, running));
      const last = rows.at(-1);
      if (last)
        progress(
          `${c.name}: ready ${last.readyS.toFixed(1)} s, consuming ${last.consumingS.toFixed(1)} s, lag back ${last.backS.toFixed(1)} s (peak ${String(last.peakLag)}, threshold ${String(last.threshold)})`,
        );
    }
  } finally {
    await admin.disconnect();
    await parley.stop();
  }
  printTable(rows);
}

async function runCase(
  parley: PathStack,
  admin: ReturnType<KafkaClient["admin"]>,
  c: Case,
  env: Record<string, string>,
  running: Partial<Record<"ingress" | Target, ServiceProcess>>,
): Promise<Row> {
  const loadAtStart = loadavg()[0] ?? 0;
  const sends = openLoop(SENDS_PER_S, (n) => {
    const contact = String(16_505_800_000 + (n % CONTACTS));
    return parley.client.requestSend({
      idempotencyKey: `${c.name}-${String(n)}`,
      contactId: contact,
      recipient: { phone: contact },
      sender: { kind: "businessNumber", phoneNumberId: NUMBER },
      content: {
        type: "template",
        template: {
          name: "order_update",
          language: { code: "en_US" },
          components: [{ type: "body", parameters: [{ type: "text", text: String(n) }] }],
        },
      },
      category: "utility",
    });
  });
  const webhooks = openLoop(WEBHOOKS_PER_S, (n) => {
    parley.sim.userSends(
      String(16_505_900_000 + (n % USERS)),
      { type: "text", body: `hello ${String(n)}` },
      { phoneNumberId: NUMBER },
    );
    return Promise.resolve();
  });
  try {
    // Steady state under load, its lag sampled for the threshold.
    const lags: number[] = [];
    const settleUntil = Date.now() + SETTLE_S * 1_000;
    while (Date.now() < settleUntil) {
      lags.push(lagOf(await offsets(admin, parley, c.target)));
      await sleep(250);
    }
    const threshold = Math.round(2 * median(lags.slice(-20)) + 50);
    const victim = running[c.target];
    if (!victim) throw new Error(`no ${c.target} running`);
    const atKill = await offsets(admin, parley, c.target);
    const killedAt = Date.now();
    await stopService(victim, "SIGKILL");
    let readyAt: number | undefined;
    let peakLag = lagOf(atKill);
    const restart = (async () => {
      await sleep(Math.max(0, c.restartMs - (Date.now() - killedAt)));
      running[c.target] = await parley.start(c.target, env);
      readyAt = Date.now();
    })();
    let backAt: number | undefined;
    let consumingAt: number | undefined;
    const deadline = killedAt + CASE_TIMEOUT_S * 1_000;
    while (Date.now() < deadline) {
      const now = await offsets(admin, parley, c.target);
      const lag = lagOf(now);
      peakLag = Math.max(peakLag, lag);
      const consumedAgain = [...now].every(([id, p]) => {
        const then = atKill.get(id);
        // A partition with records since the kill must have been consumed past the kill.
        return then === undefined || p.end <= then.committed || p.committed > then.committed;
      });
      if (readyAt !== undefined && consumedAgain) consumingAt ??= Date.now();
      if (readyAt !== undefined && consumedAgain && lag <= threshold) {
        backAt = Date.now();
        break;
      }
      await sleep(100);
    }
    await restart;
    return {
      name: c.name,
      target: c.target,
      setting: c.setting,
      restartMs: c.restartMs,
      readyS: ((readyAt ?? Number.NaN) - killedAt) / 1_000,
      consumingS: ((consumingAt ?? Number.NaN) - killedAt) / 1_000,
      backS: ((backAt ?? Number.NaN) - killedAt) / 1_000,
      peakLag,
      threshold,
      load: `${loadAtStart.toFixed(1)}–${(loadavg()[0] ?? 0).toFixed(1)}`,
    };
  } finally {
    sends.stop();
    webhooks.stop();
    progress(
      `${c.name}: ${String(sends.sent)} send requests, ${String(webhooks.sent)} webhooks, ${String(sends.failures + webhooks.failures)} refused or skipped`,
    );
    // The backlog drains before the next case.
    const until = Date.now() + CASE_TIMEOUT_S * 1_000;
    for (const t of ["router", "sender"] as const)
      while (Date.now() < until && lagOf(await offsets(admin, parley, t)) > 200) await sleep(500);
  }
}

function printTable(rows: readonly Row[]): void {
  const header = [
    "case",
    "killed",
    "session / heartbeat",
    "membership",
    "restart",
    "kill → ready (s)",
    "kill → consuming (s)",
    "kill → lag back (s)",
    "peak lag",
    "threshold",
    "load avg",
  ];
  const lines = rows.map((r) => [
    r.name,
    r.target,
    r.setting.label,
    r.setting.membership,
    `${String(r.restartMs / 1_000)} s`,
    Number.isNaN(r.readyS) ? "—" : r.readyS.toFixed(1),
    Number.isNaN(r.consumingS) ? "—" : r.consumingS.toFixed(1),
    Number.isNaN(r.backS) ? `> ${String(CASE_TIMEOUT_S)}` : r.backS.toFixed(1),
    String(r.peakLag),
    String(r.threshold),
    r.load,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const row = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(
    `load: ${String(SENDS_PER_S)} send requests/s and ${String(WEBHOOKS_PER_S)} user webhooks/s (plus the sends' status webhooks), settle ${String(SETTLE_S)} s before each kill`,
  );
  console.log(row(header));
  console.log(row(widths.map((w) => "-".repeat(w))));
  for (const l of lines) console.log(row(l));
}

await main();
