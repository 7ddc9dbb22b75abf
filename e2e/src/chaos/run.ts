// One chaos run (issue 26): the whole stack under steady load while a schedule of faults runs,
// then the checker over the history. Its own Kafka broker and its own MongoDB-wire server on disk
// (so that it may restart and stop them without disturbing anyone; the schema registry is the
// environment's, names are per namespace), the Cloud API simulator in this process, ingress and
// projection once, router and sender twice (so that kills rebalance). Used by `make chaos`
// (e2e/bench/chaos.ts: full rates, or the short run with CHAOS_PRESET=short).
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TopicId } from "@parley/contracts";
import { createKafka, createRegistry, createSerde } from "@parley/kafka";
import { checkHistory, type Recovery } from "./checker.js";
import { followTopics, simulatorHistory } from "./history.js";
import { lagOf, type Admin, type GroupTopics } from "./lag.js";
import { describeSettle, serviceGroups, settle } from "./settle.js";
import { FAULTS, type FaultName } from "./faults.js";
import { recordingDeliverer } from "./deliverer.js";
import { compareReadModels } from "./read-models.js";
import { scanLogs } from "./log-scan.js";
import { openLoop } from "./load.js";
import { ChaosTeardown, killServerGroups } from "./teardown.js";
import type { ChaosOptions, ChaosResult } from "./options.js";
import { addOrderUpdateTemplate, startPathStack, type PathStack } from "../path-stack.js";
import { infra, repoRoot, stopService, type ServiceProcess } from "../processes.js";

export type { ChaosOptions, ChaosResult } from "./options.js";

const WABA = "102290129340426";
const GRAPH_TOKEN = "chaos-graph-token-3f9a1c";
const OPS_TOKEN = "chaos-ops-token-77d2e0";
const APP_SECRET = "chaos-app-secret-c41b9e";
const GROUP_ENV = { KAFKA_SESSION_TIMEOUT_MS: "10000", KAFKA_HEARTBEAT_INTERVAL_MS: "3000" };
// A send no status reconciles (a call that hung before Graph took it) fails after 20 s here.
const SENDER_ENV = { SENDER_IN_DOUBT_TIMEOUT_MS: "20000", SENDER_IN_DOUBT_SWEEP_MS: "1000" };
const PROJECTION_TOPICS: readonly TopicId[] = [
  "send-requests",
  "dispatch",
  "send-outcomes",
  "statuses",
  "inbound-messages",
  "conversation-windows",
  "consent",
  "media",
  "business-events",
];

/** The secrets a run uses: a scan of its logs must find none of them (issue 26). */
export const CHAOS_SECRETS = [GRAPH_TOKEN, OPS_TOKEN, APP_SECRET] as const;

const numberId = (i: number) => String(106_540_352_240_000 + i);
const contactOf = (i: number) => String(16_505_700_000 + i);
const userOf = (i: number) => String(16_505_600_000 + i);

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const log = o.log ?? ((line: string) => process.stderr.write(`[chaos] ${line}\n`));
  const at = () => `${((Date.now() - started) / 1_000).toFixed(0)} s`;
  const profile = `chaos-${o.name}`;
  const kafkaPort = o.kafkaPort ?? 0;
  // A state directory per run: overlapping runs sharing a pid file stopped each other's MongoDB.
  const stateDir = join(
    repoRoot,
    ".parley",
    profile,
    `run-${String(process.pid)}-${String(started)}`,
  );
  const infraEnv = {
    PARLEY_PROFILE: profile,
    PARLEY_STATE_DIR: stateDir,
    KAFKA_PORT: String(kafkaPort),
    KAFKA_CONTROLLER_PORT: String(kafkaPort + 1),
    KAFKA_CLUSTER_PORT: String(kafkaPort),
    MONGO_PORT: String(o.mongoPort),
    MONGO_STORAGE: "disk",
  };
  const brokers = o.cluster
    ? [0, 2, 4].map((d) => `127.0.0.1:${String(kafkaPort + d)}`)
    : [`127.0.0.1:${String(kafkaPort)}`];
  const kafkaServer = o.cluster ? "kafka-cluster" : "kafka";
  const ownServers = o.kafkaPort === undefined ? ["mongo"] : [kafkaServer, "mongo"];
  const wanted = new Set<FaultName>(o.faults ?? FAULTS.filter((f) => f !== "kill-broker-node"));
  if (!o.brokerRestart || o.kafkaPort === undefined) wanted.delete("broker-restart");
  const stallMs = (o.stallS ?? 120) * 1_000;
  const servers = {
    ...(o.kafkaPort === undefined ? {} : { kafka: { brokers } }),
    schemaRegistryUrl: o.schemaRegistryUrl,
    mongoUrl: `mongodb://127.0.0.1:${String(o.mongoPort)}/?directConnection=true&retryWrites=false`,
  };
  const numbers = Array.from({ length: o.numbers }, (_, i) => numberId(i));
  const deliverer = recordingDeliverer(10_000);
  let parley: PathStack | undefined;
  let admin: Admin | undefined;
  const faults: string[] = [];
  const teardown = o.teardown ?? new ChaosTeardown(log);
  // Newest first at teardown: the load, the services, the stack, then the servers and their data.
  teardown.add("servers", async () => {
    // A server still up is SIGKILLed by its process group first (quick, and sure even when the
    // run was abandoned mid-step), then infra.sh tidies its pid files.
    const killed = killServerGroups(stateDir);
    if (killed.length > 0) log(`teardown: SIGKILLed the server groups ${killed.join(", ")}`);
    await infra(["stop", ...ownServers], infraEnv).catch(() => undefined);
    // The servers' data (MongoDB's file, a broker's log) goes; their logs stay for a post-mortem.
    for (const entry of existsSync(stateDir) ? readdirSync(stateDir) : [])
      if (entry !== "logs") rmSync(join(stateDir, entry), { recursive: true, force: true });
  });
  teardown.add("deliverer", () => deliverer.close());
  try {
    log(`servers' state and logs: ${stateDir}`);
    await infra(["start", ...ownServers], infraEnv);
    parley = await startPathStack({
      name: `chaos-${o.name}`,
      servers,
      opsToken: OPS_TOKEN,
      appSecret: APP_SECRET,
      graphToken: GRAPH_TOKEN,
      numbers: JSON.stringify({
        numbers: numbers.map((id) => ({
          phoneNumberId: id,
          wabaId: WABA,
          mps: o.mps,
          accessToken: GRAPH_TOKEN,
        })),
      }),
      simulator: {
        seed: `chaos-${o.name}`,
        businesses: [
          {
            wabaId: WABA,
            phoneNumbers: numbers.map((id, i) => ({
              id,
              displayPhoneNumber: String(15_550_100_000 + i),
              highThroughput: true,
            })),
          },
        ],
        deliver: deliverer.deliver,
        webhooks: {
          retryDelaysMs: [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000, 30_000],
          retryTimeScale: 1,
          concurrency: 32,
        },
        statuses: { sentDelayMs: [20, 100], deliveredDelayMs: [50, 300], readProbability: 0.3 },
        retainMessages: 2_000_000,
      },
      read: [],
    });
    const p = parley;
    teardown.add("stack", () =>
      p.stop().catch((error: unknown) => {
        log(`stopping the stack: ${String(error)}`);
      }),
    );
    const kafka = createKafka({ brokers: p.stack.kafkaBrokers, clientId: `${p.ns.id}-chaos` });
    admin = kafka.admin();
    const a = admin;
    teardown.add("admin", () => a.disconnect().catch(() => undefined));
    await admin.connect();
    const serde = createSerde({ registry: createRegistry({ url: p.stack.schemaRegistryUrl }) });
    const topics = await followTopics({
      kafka,
      serde,
      catalog: p.catalog,
      consumer: `chaos-${o.name}-history`,
    });
    teardown.add("history", () => topics.stop());
    addOrderUpdateTemplate(p.sim, WABA);
    for (let u = 0; u < Math.max(50, o.webhooksPerS * 2); u++) p.sim.addUser({ waId: userOf(u) });
    const users = Math.max(50, o.webhooksPerS * 2);

    // Every service, router and sender twice; each restarted with the same settings after a kill.
    type Name = "ingress" | "router" | "sender" | "projection";
    const running: { name: Name; process: ServiceProcess }[] = [];
    const launch = async (name: Name) => {
      const env = name === "sender" ? { ...GROUP_ENV, ...SENDER_ENV } : GROUP_ENV;
      // An abandoned run (its teardown done) starts nothing more.
      if (teardown.done) throw new Error(`not starting ${name}: the run is torn down`);
      const service = await p.start(name, env);
      teardown.child(service.name, service.child);
      running.push({ name, process: service });
    };
    // Started again as a supervisor would: a failed start (MongoDB down) is tried a few times.
    const relaunch = async (name: Name) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await launch(name);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          log(`${at()}: ${name} did not start (attempt ${String(attempt)}): ${String(error)}`);
          await sleep(2_000);
        }
      }
    };
    const instances = Array.from({ length: o.instances ?? 2 });
    await Promise.all(
      (
        [
          "ingress",
          ...instances.map(() => "router" as const),
          ...instances.map(() => "sender" as const),
          "projection",
        ] as const
      ).map(launch),
    );
    log(`${at()}: stack up (${running.map((r) => r.process.name).join(", ")})`);

    // A killed service comes back in the background: the schedule goes on while it starts (on a
    // loaded machine a start takes a minute), and the load waits for no one.
    const restarts: Promise<void>[] = [];
    const restartFailures: string[] = [];
    const kill = async (name: Name, restartAfterMs: number) => {
      // The oldest instance of that service still running.
      const victim = running.find((r) => r.name === name);
      if (!victim) throw new Error(`no ${name} running`);
      running.splice(running.indexOf(victim), 1);
      await stopService(victim.process, "SIGKILL");
      restarts.push(
        sleep(restartAfterMs)
          .then(async () => {
            await relaunch(name);
            log(`${at()}: ${name} back (ready)`);
          })
          .catch((error: unknown) => {
            // Kept for the end of the load: a service that does not come back fails the run.
            restartFailures.push(`${name}: ${String(error)}`);
          }),
      );
    };
    const groups = (g: "router" | "projection"): GroupTopics[] =>
      g === "projection"
        ? [
            {
              group: `${p.catalog.prefix}parley.projection.g1`,
              topics: PROJECTION_TOPICS.map((t) => p.catalog.topic(t).name),
            },
          ]
        : [
            {
              group: `${p.catalog.prefix}parley.router-inbound`,
              topics: [p.catalog.topic("raw-webhooks").name],
            },
            {
              group: `${p.catalog.prefix}parley.router-statuses`,
              topics: [p.catalog.topic("raw-status-webhooks").name],
            },
            {
              group: `${p.catalog.prefix}parley.router-outbound`,
              topics: [p.catalog.topic("send-requests").name],
            },
            {
              group: `${p.catalog.prefix}parley.router-gates`,
              topics: (["consent", "conversation-windows"] as const).map(
                (t) => p.catalog.topic(t).name,
              ),
            },
          ];
    const lag = (g: "router" | "projection") =>
      lagOf(admin as Admin, groups(g)).catch(() => Number.NaN);
    const recoveries: Recovery[] = [];
    // A catch-up not reached under load (a machine slower than the load) is judged again once
    // the load has stopped: caught up if the settle ends with every lag at zero.
    const pendingRecoveries: { index: number; back: number }[] = [];
    // The catch-ups after MongoDB's outage run beside the schedule, not in it: the load ends at
    // its time whatever they wait for (a catch-up the load outlives is then measured without it,
    // and its row says so), so a projection slower than the load no longer stretches the load.
    const catchUps: Promise<void>[] = [];
    const waits = new AbortController();
    teardown.add("waits", () => {
      waits.abort();
    });
    let loadStoppedAt: number | undefined;

    const catchUp = async (
      g: "router" | "projection",
      before: number,
      peak: number,
      back: number,
    ): Promise<Recovery & { settled: boolean }> => {
      const threshold = 2 * (Number.isNaN(before) ? 0 : before) + 100;
      // Back under its level before the outage: waited for as long as the backlog shrinks
      // (a slow machine catches up more slowly, which is no failure), bounded.
      const result = await settle({
        admin: admin as Admin,
        groups: () => Promise.resolve(groups(g)),
        unanswered: () => 0,
        prefix: p.catalog.prefix,
        timeoutMs: o.settleTimeoutS * 1_000,
        stallMs,
        target: threshold,
        log,
        label: `catch-up after MongoDB (${g})`,
        signal: waits.signal,
      });
      for (const l of Object.values(result.lags)) if (!Number.isNaN(l)) peak = Math.max(peak, l);
      if (!result.settled) log(`catch-up after MongoDB (${g}): ${describeSettle(result)}`);
      const after = loadStoppedAt !== undefined && result.settled ? "; the load had stopped" : "";
      return {
        label: `MongoDB stopped ${String(o.mongoOutageS)} s (${g}, back under ${String(threshold)}${after})`,
        peakLag: peak,
        caughtUpMs: result.settled ? Date.now() - back : undefined,
        settled: result.settled,
      };
    };

    const mongoOutage = async () => {
      const before = { router: await lag("router"), projection: await lag("projection") };
      await infra(["stop", "mongo"], infraEnv);
      const peak = { ...before };
      const until = Date.now() + o.mongoOutageS * 1_000;
      while (Date.now() < until) {
        for (const g of ["router", "projection"] as const) {
          const l = await lag(g);
          if (!Number.isNaN(l)) peak[g] = Math.max(peak[g], l);
        }
        await sleep(1_000);
      }
      await infra(["start", "mongo"], { ...infraEnv, MONGO_KEEP_DATA: "1" });
      const back = Date.now();
      // Both groups at once, in the background; the rows keep their order (router, projection).
      catchUps.push(
        Promise.all(
          (["router", "projection"] as const).map((g) => catchUp(g, before[g], peak[g], back)),
        ).then((results) => {
          for (const { settled, ...recovery } of results) {
            recoveries.push(recovery);
            if (!settled) pendingRecoveries.push({ index: recoveries.length - 1, back });
          }
        }),
      );
    };

    // The schedule, as fractions of the load's duration; each step starts when the previous one
    // is done (a step that overruns delays the next, and the log says when each really ran).
    const T = o.loadS;
    const all: { fault: FaultName; atS: number; label: string; run: () => Promise<void> }[] = [
      {
        fault: "kill-sender",
        atS: 0.05 * T,
        label: "SIGKILL sender-1 (restart 1 s later)",
        run: () => kill("sender", 1_000),
      },
      {
        fault: "simulator-5xx",
        atS: 0.1 * T,
        label: "simulator: 10% 5xx, 2% timeouts, 2% accepted-then-timeout",
        run: () => {
          p.sim.setFaults({
            serverErrorRate: 0.1,
            timeoutRate: 0.02,
            timeoutAfterAcceptRate: 0.02,
            hangMs: 3_000,
          });
          return Promise.resolve();
        },
      },
      {
        fault: "kill-router",
        atS: 0.15 * T,
        label: "SIGKILL router-1 (restart 1 s later)",
        run: () => kill("router", 1_000),
      },
      {
        fault: "graph-delay",
        atS: 0.2 * T,
        label: "simulator healthy; Graph delay 100-600 ms",
        run: () => {
          p.sim.clearFaults();
          p.sim.setFaults({ latency: { kind: "uniform", minMs: 100, maxMs: 600 } });
          return Promise.resolve();
        },
      },
      {
        fault: "kill-ingress",
        atS: 0.3 * T,
        label: "SIGKILL ingress (restart 2 s later)",
        run: () => kill("ingress", 2_000),
      },
      {
        fault: "broker-restart",
        atS: 0.35 * T,
        label: wanted.has("broker-restart")
          ? "no Graph delay; Kafka broker restart (on its data)"
          : "no Graph delay",
        run: async () => {
          p.sim.clearFaults();
          if (!wanted.has("broker-restart")) return;
          // A minute for a clean shutdown (infra.sh kills after 20 s by default, and a broker killed
          // mid-shutdown then recovers its logs on start, which a saturated machine takes minutes for).
          await infra(["start", kafkaServer === "kafka" ? "kafka" : "kafka-node-1"], {
            ...infraEnv,
            KAFKA_KEEP_DATA: "1",
            INFRA_STOP_TIMEOUT: "60",
          });
        },
      },
      {
        fault: "kill-projection",
        atS: 0.45 * T,
        label: "SIGKILL projection (restart 1 s later)",
        run: () => kill("projection", 1_000),
      },
      {
        fault: "mongo-outage",
        atS: 0.5 * T,
        label: `MongoDB stopped ${String(o.mongoOutageS)} s (durable server)`,
        run: mongoOutage,
      },
      {
        fault: "kill-sender-and-router",
        atS: 0.8 * T,
        label: "SIGKILL sender-2 and router-2 (restart 1 s later)",
        run: async () => {
          await kill("sender", 1_000);
          await kill("router", 1_000);
        },
      },
      {
        fault: "kill-broker-node",
        atS: 0.6 * T,
        label: "SIGKILL Kafka node 2 of 3 (back on its data 10 s later)",
        run: async () => {
          // SIGKILL (no clean shutdown): the node's unflushed tail is lost, the other two hold
          // every record acknowledged with acks=all (min.insync.replicas 2).
          const pidFile = join(infraEnv.PARLEY_STATE_DIR, "run", "kafka-node-2.pid");
          process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGKILL");
          await sleep(10_000);
          await infra(["start", "kafka-node-2"], { ...infraEnv, KAFKA_KEEP_DATA: "1" });
        },
      },
    ];
    // The steps asked for, in time order, each at its fraction of the load.
    const schedule = all
      .filter(
        (x) =>
          wanted.has(x.fault) ||
          // The step that ends the Graph delay also restarts the broker.
          (x.fault === "broker-restart" && wanted.has("graph-delay")),
      )
      .sort((a, b) => a.atS - b.atS);

    const sends = openLoop(o.sendsPerS, (n) => {
      const contact = contactOf(n % o.contacts);
      return p.client.requestSend({
        idempotencyKey: `chaos-${String(n)}`,
        contactId: contact,
        recipient: { phone: contact },
        sender: {
          kind: "businessNumber",
          phoneNumberId: numbers[n % numbers.length] ?? numberId(0),
        },
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
    const webhooks = openLoop(o.webhooksPerS, (n) => {
      p.sim.userSends(
        userOf(n % users),
        { type: "text", body: `hello ${String(n)}` },
        {
          phoneNumberId: numbers[n % numbers.length] ?? numberId(0),
        },
      );
      return Promise.resolve();
    });
    const loadStart = Date.now();
    const stopLoad = () => {
      if (loadStoppedAt !== undefined) return;
      sends.stop();
      webhooks.stop();
      p.sim.clearFaults();
      loadStoppedAt = Date.now();
    };
    teardown.add("load", stopLoad);
    try {
      for (const step of schedule) {
        const wait = loadStart + step.atS * 1_000 - Date.now();
        if (wait > 0) await sleep(wait);
        const t0 = Date.now();
        await step.run();
        const line = `${at()}: ${step.label} (${((Date.now() - t0) / 1_000).toFixed(1)} s)`;
        faults.push(line);
        log(line);
      }
      const rest = loadStart + T * 1_000 - Date.now();
      if (rest > 0) await sleep(rest);
    } finally {
      stopLoad();
    }
    log(
      `${at()}: load stopped after ${(((loadStoppedAt ?? Date.now()) - loadStart) / 1_000).toFixed(0)} s: ${String(sends.sent)} sends (${String(sends.failures)} refused by the client), ${String(webhooks.sent)} user webhooks`,
    );
    // The waits without load: the catch-ups after MongoDB's outage, the killed services' return.
    await Promise.all(catchUps);
    await Promise.all(restarts);
    if (restartFailures.length > 0)
      throw new Error(`services that did not come back: ${restartFailures.join("; ")}`);

    // Settle: every request answered and every group of the services at lag 0, waited for as
    // long as the backlog shrinks (bounded): a slow machine passes more slowly.
    const answered = new Set<string>();
    let seenOutcomes = 0;
    const settled = await settle({
      admin,
      groups: () => serviceGroups(admin as Admin, p.catalog.prefix, [`chaos-${o.name}-history`]),
      unanswered: () => {
        // An in-doubt notice is no final word: its reconciliation (a status webhook) is waited for.
        for (const out of topics.outcomes.slice(seenOutcomes))
          if (out.type !== "SendInDoubt") answered.add(out.requestId);
        seenOutcomes = topics.outcomes.length;
        return topics.requests.filter((r) => !answered.has(r)).length;
      },
      prefix: p.catalog.prefix,
      timeoutMs: o.settleTimeoutS * 1_000,
      stallMs,
      log,
      label: "settling",
    });
    log(`${at()}: ${describeSettle(settled)}`);
    for (const { index, back } of pendingRecoveries) {
      const r = recoveries[index];
      if (r !== undefined && settled.settled)
        recoveries[index] = {
          ...r,
          label: `${r.label}; only after the load stopped`,
          caughtUpMs: Date.now() - back,
        };
    }
    const readModels = await compareReadModels(p, admin, groups("projection"), o.settleTimeoutS);
    log(`${at()}: history read (${String(topics.count())} records); checking`);
    const sim = simulatorHistory(p.sim);
    // Every phone number of the run: contacts, users, the business numbers' display numbers.
    const phones = new Set([
      ...Array.from({ length: o.contacts }, (_, i) => contactOf(i)),
      ...Array.from({ length: users }, (_, i) => userOf(i)),
      ...numbers.map((_, i) => String(15_550_100_000 + i)),
    ]);
    const logScan = scanLogs(
      join(repoRoot, ".parley", `e2e-chaos-${o.name}`, p.ns.id),
      CHAOS_SECRETS,
      phones,
    );
    const report = checkHistory({
      deliveries: deliverer.deliveries,
      typed: topics.typed,
      requests: topics.requests,
      graphSends: sim.graphSends,
      outcomes: topics.outcomes,
      caps: Object.fromEntries(numbers.map((id) => [id, o.mps])),
      pairPacing: sim.pairPacing,
      readModels,
      recoveries,
      logScan,
    });
    return {
      report,
      sent: sends.sent,
      sendFailures: sends.failures,
      webhooks: webhooks.sent,
      faults,
      wallS: (Date.now() - started) / 1_000,
    };
  } finally {
    await teardown.run();
  }
}
