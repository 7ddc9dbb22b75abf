// Router inbound throughput (issue 5's benchmark), in one run on one broker, registry and MongoDB:
//  1. baseline: a bare consume of the raw topic through the Kafka layer (decode, no-op handler);
//  2. the router's inbound side as main.ts composes it (parse, decide, MongoDB state with the
//     outbox, publish to the contact-keyed topics), webhooks/s and events/s produced, once per
//     BENCH_MARK_DELAYS setting, each on topics and a database of its own, after
//     BENCH_ROUTER_WARMUP (1) discarded router cases so every measured case runs warm.
// Each case prints its CPU per webhook, peak RSS, round trips (Kafka requests by API, MongoDB
// commands with MONGO_COMMAND_METRICS=true) and the servers' CPU; BENCH_CPU_PROF=<file> profiles
// the last router case.
// The raw topic is filled first (WEBHOOKS webhooks, one message each, across three business
// numbers and CONTACTS contacts, plus Meta's retries), so each case only consumes.
//   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... MONGO_URL=... node services/router/dist/adapters/kafka/raw-webhook-consumer.bench.js
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { createCatalog, createEvent, parseContactId, type EventOf } from "@parley/contracts";
import {
  createEventConsumer,
  createEventProducer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
  type OutgoingEvent,
  createCatalogPublisher,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import {
  createRawWebhookConsumer,
  ROUTER_INBOUND_CONSUMER,
} from "../dist/adapters/kafka/raw-webhook-consumer.js";
import { createContactStore } from "../dist/adapters/store/contact-store.js";
import { eventIdOf } from "../dist/inbound/event-id.js";
import { createInboundHandler, type ContactStore } from "../dist/inbound/handler.js";
import { createKeywordMatcher, defaultKeywords } from "../dist/inbound/keywords.js";

const WEBHOOKS = Number(process.env["BENCH_WEBHOOKS"] ?? "5000");
const CONTACTS = Number(process.env["BENCH_CONTACTS"] ?? "500");
// Status identities each contact's document already holds before a router case (a contact with
// a history: 3 statuses per message sent to it, up to ROUTER_DEDUPE_MAX_IDS, 500, kept).
const HISTORY = Number(process.env["BENCH_HISTORY"] ?? "0");
// As main.ts: ROUTER_MAX_IN_FLIGHT, whose default is 200.
const MAX_IN_FLIGHT = Number(process.env["BENCH_MAX_IN_FLIGHT"] ?? "200");
const NUMBERS = ["106540352242931", "106540352242932", "106540352242933"];
const TIMEOUT_MS = Number(process.env["BENCH_TIMEOUT_S"] ?? "120") * 1000;
const COUNT_COMMANDS = process.env["MONGO_COMMAND_METRICS"] === "true";

function webhook(n: number, run: string): EventOf<"RawWebhookReceived"> {
  const pnid = NUMBERS[n % NUMBERS.length] ?? "";
  const from = String(16505550000 + ((n * 7) % CONTACTS));
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: pnid },
              contacts: [{ profile: { name: "José" }, wa_id: from }],
              messages: [
                {
                  from,
                  id: `wamid.${run}.${String(n)}`,
                  timestamp: String(Math.floor(Date.now() / 1000)),
                  type: "text",
                  text: { body: `Olá! Pedido nº ${String(n)} 📦` },
                },
              ],
            },
          },
        ],
      },
    ],
  });
  const deliveryId = `${run}-${String(n)}-${Math.random().toString(36).slice(2)}`;
  return createEvent(
    "RawWebhookReceived",
    {
      deliveryId,
      bodyBase64: Buffer.from(body).toString("base64"),
      signature: "sha256=unchecked",
      sizeBytes: body.length,
      phoneNumberIds: [pnid],
      wabaIds: ["102290129340398"],
    },
    { correlationId: deliveryId, now: new Date() },
  );
}

// Round trips: every Kafka request (by API) and MongoDB command (by name) this process sends.
const roundTrips = new Map<string, number>();
const count = (name: string) => {
  roundTrips.set(name, (roundTrips.get(name) ?? 0) + 1);
};

/** CPU seconds (utime + stime at 100 ticks/s) of a process, from /proc; NaN when unreadable. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The servers infra/native/infra.sh started (its pid files), to charge their CPU per webhook. */
function serverPids(): Map<string, number> {
  const profile = process.env["PARLEY_PROFILE"] ?? "default";
  const repo = fileURLToPath(new URL("../../..", import.meta.url));
  const dir = join(process.env["PARLEY_STATE_DIR"] ?? join(repo, ".parley", profile), "run");
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".pid")) continue;
    const pid = Number(readFileSync(join(dir, file), "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${String(pid)}`)) {
      out.set(file.slice(0, -4), pid);
    }
  }
  return out;
}

/** What one case cost: CPU per process, this process's peak RSS, the round trips it sent. */
function measureCase() {
  const servers = serverPids();
  const cpu0 = process.cpuUsage();
  const server0 = new Map([...servers].map(([name, pid]) => [name, cpuSeconds(pid)]));
  const trips0 = new Map(roundTrips);
  let rssPeak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 100);
  return () => {
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpu0);
    return {
      cpuMicros: cpu.user + cpu.system,
      rssMb: Math.max(rssPeak, process.memoryUsage.rss()) / 1024 / 1024,
      servers: new Map(
        [...servers].map(([name, pid]) => [name, cpuSeconds(pid) - (server0.get(name) ?? NaN)]),
      ),
      trips: new Map(
        [...roundTrips]
          .map(([name, n]): [string, number] => [name, n - (trips0.get(name) ?? 0)])
          .filter(([, n]) => n > 0),
      ),
    };
  };
}
type CaseCost = ReturnType<ReturnType<typeof measureCase>>;

/**
 * BENCH_CPU_PROF=<file.cpuprofile>: profiles the router case alone (V8's sampling profiler, as
 * --cpu-prof but only around that case) and prints its top frames by self time.
 */
async function startProfile(): Promise<(() => Promise<void>) | undefined> {
  const file = process.env["BENCH_CPU_PROF"];
  if (file === undefined || file === "") return undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
    const self = new Map<string, number>();
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const deltas = profile.timeDeltas ?? [];
    let total = 0;
    (profile.samples ?? []).forEach((id, i) => {
      const frame = byId.get(id)?.callFrame;
      if (frame === undefined) return;
      const where = frame.url.split("/").slice(-2).join("/");
      const name = `${frame.functionName || "(anonymous)"} ${where}:${String(frame.lineNumber + 1)}`;
      const dt = deltas[i] ?? 0;
      total += dt;
      self.set(name, (self.get(name) ?? 0) + dt);
    });
    process.stdout.write(
      `\nrouter case profile (${file}), top frames by self time of ${(total / 1000).toFixed(0)} ms:\n${[
        ...self,
      ]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 25)
        .map(([name, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} % ${name}`)
        .join("\n")}\n`,
    );
  };
}

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const brokers = (process.env["KAFKA_BROKERS"] ?? "127.0.0.1:9092").split(",");
  const registryUrl = process.env["SCHEMA_REGISTRY_URL"] ?? "http://127.0.0.1:8081";
  const mongoUrl = process.env["MONGO_URL"] ?? "mongodb://127.0.0.1:27017/?directConnection=true";
  const run = `rbench${Date.now().toString(36)}`;
  const kafka = createKafka({
    brokers,
    clientId: run,
    observer: {
      request: ({ apiName }) => {
        count(`kafka ${apiName}`);
      },
    },
  });
  const serde = createSerde({ registry: createRegistry({ url: registryUrl }) });
  const producer = createEventProducer({ kafka, serde, name: "bench" });
  await producer.connect();
  /** Topics of their own for one case, its raw topic filled with the same webhooks. */
  const filled = async (prefix: string) => {
    const catalog = createCatalog({ prefix: `${prefix}.` });
    await provisionTopics({
      kafka,
      serde,
      topics: [
        ...catalog.topics,
        catalog.deadLetterTopic(ROUTER_INBOUND_CONSUMER),
        catalog.deadLetterTopic("bench-bare"),
      ],
    });
    const raw = catalog.topic("raw-webhooks");
    const records: OutgoingEvent[] = [];
    for (let n = 0; n < WEBHOOKS; n++) {
      const event = webhook(n, run);
      records.push({ key: raw.keyOf(event), event });
    }
    for (let i = 0; i < records.length; i += 500) {
      await producer.publish(raw, records.slice(i, i + 500));
    }
    return { catalog, raw };
  };
  const first = await filled(run);
  process.stderr.write(
    `router inbound bench: ${String(WEBHOOKS)} webhooks on ${String(first.raw.partitions)} raw partitions, ${String(NUMBERS.length)} business numbers, ${String(CONTACTS)} contacts\n`,
  );

  // 1. Baseline: the bare consume of the same records.
  let consumed = 0;
  const bare = createEventConsumer({
    kafka,
    serde,
    catalog: first.catalog,
    consumer: "bench-bare",
    topics: [first.raw],
    tuning: { fromBeginning: true },
    handle: () => {
      consumed++;
      return Promise.resolve();
    },
  });
  const bareStarted = performance.now();
  const bareMeasured = measureCase();
  await bare.start();
  await until(() => consumed >= WEBHOOKS, "the bare consumer");
  const bareSeconds = (performance.now() - bareStarted) / 1000;
  const bareCost = bareMeasured();
  await bare.stop();

  // 2. The router's inbound side, composed as in main.ts, once per published-mark setting
  // (BENCH_MARK_DELAYS: -1 each batch waits for its mark, as before ADR 0010's deferred marks;
  // a number: ROUTER_MARK_DELAY_MS), each on topics and a database of its own.
  const markDelays = (process.env["BENCH_MARK_DELAYS"] ?? "-1").split(",").map(Number);
  // BENCH_SAVES (whole,delta): each save replaces the contact's whole document, or (delta, as
  // main.ts composes it) sends what the decision changed for contacts the store remembers.
  const saveModes = (process.env["BENCH_SAVES"] ?? "whole,delta").split(",");
  const variants = markDelays.flatMap((delay) => saveModes.map((saves) => ({ delay, saves })));
  // MongoDB commands are counted only with MONGO_COMMAND_METRICS=true, as in the services: the
  // driver's command monitoring decodes every reply a second time, a cost the router does not
  // pay in production.
  const mongo = createMongo({
    url: mongoUrl,
    database: run,
    appName: run,
    ...(COUNT_COMMANDS
      ? {
          onCommand: (name: string) => {
            count(`mongo ${name}`);
          },
        }
      : {}),
  });
  const clock = () => new Date();
  const routerCase = async (index: number, markDelay: number, saves: string) => {
    const { catalog } = index === 0 ? first : await filled(`${run}-${String(index)}`);
    const db = mongo.client.db(`${run}-${String(index)}`);
    let webhooks = 0;
    let events = 0;
    // Where the router's time goes: calls, items and wall time per store or broker step.
    const steps = new Map<string, { calls: number; items: number; ms: number }>();
    const step = async <T>(name: string, items: number, work: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await work();
      } finally {
        const s = steps.get(name) ?? { calls: 0, items: 0, ms: 0 };
        s.calls++;
        s.items += items;
        s.ms += performance.now() - t0;
        steps.set(name, s);
      }
    };
    const timed = (store: ContactStore): ContactStore => ({
      loadMany: (ids) => step("load", ids.length, () => store.loadMany(ids)),
      saveMany: (writes) => step("save", writes.length, () => store.saveMany(writes)),
      markPublished: (marks) => step("mark", marks.length, () => store.markPublished(marks)),
    });
    const publishToCatalog = createCatalogPublisher(producer, catalog);
    const handler = createInboundHandler({
      store: timed(createContactStore({ db, clock, rememberKeys: saves === "delta" ? 1_000 : 0 })),
      publish: (batch) => step("publish", batch.length, () => publishToCatalog(batch)),
      clock,
      decideWith: {
        windowMs: 24 * 60 * 60 * 1000,
        matchKeyword: createKeywordMatcher(defaultKeywords),
        eventIdOf,
      },
      limits: { maxIds: 500, ttlMs: 8 * 24 * 60 * 60 * 1000 },
      ...(markDelay < 0 ? {} : { markDelayMs: markDelay }),
      observer: {
        decided(_fact, emitted) {
          webhooks++;
          events += emitted.length;
        },
        conflict: () => undefined,
      },
    });
    if (HISTORY > 0) {
      // Written as the router writes them (version 1, outbox published), in bulk writes of 100.
      const seed = createContactStore({ db, clock });
      const at = (i: number) => new Date(Date.now() - (HISTORY - i) * 60_000).toISOString();
      const writes = Array.from({ length: CONTACTS }, (_, c) => {
        const parsed = parseContactId(String(16505550000 + c));
        if (!parsed.ok) throw new Error(parsed.reason);
        const key = parsed.contactId;
        const statuses = Array.from({ length: HISTORY }, (_, i) => ({
          id: `status:wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI${String(c)}x${String(i)}:read:`,
          at: at(i),
        }));
        return {
          key,
          state: { contactId: key, messages: [], statuses, others: [], windows: [] },
          outbox: [],
          expectedVersion: 0,
        };
      });
      for (let i = 0; i < writes.length; i += 100) await seed.saveMany(writes.slice(i, i + 100));
    }
    const router = createRawWebhookConsumer({
      kafka,
      serde,
      catalog,
      handler,
      clock,
      tuning: { fromBeginning: true, maxInFlight: MAX_IN_FLIGHT },
    });
    const stopProfile = index === variants.length - 1 ? await startProfile() : undefined;
    const started = performance.now();
    const measured = measureCase();
    await router.start();
    await until(() => webhooks >= WEBHOOKS, "the router");
    const seconds = (performance.now() - started) / 1000;
    const cost = measured();
    await router.stop();
    await handler.flush();
    await stopProfile?.();
    await db.dropDatabase();
    return {
      name: `router inbound, marks ${markDelay < 0 ? "awaited per batch" : `deferred ${String(markDelay)} ms`}, ${saves === "delta" ? "saves of what changed" : "whole-document saves"}`,
      webhooks,
      events,
      seconds,
      cost,
      steps,
    };
  };
  // BENCH_ROUTER_WARMUP (1): router cases run first and discarded, on topics of their own, so
  // the measured cases all run on a warm JIT. Without it the first measured case ran colder
  // than the next (2026-12-06, 15:32 UTC: whichever setting ran second looked faster).
  const warmups = Number(process.env["BENCH_ROUTER_WARMUP"] ?? "1");
  for (let w = 0; w < warmups; w++) {
    const warm = await routerCase(
      variants.length + w,
      markDelays[0] ?? -1,
      saveModes[0] ?? "delta",
    );
    process.stderr.write(
      `router warm-up ${String(w + 1)} (discarded): ${(warm.webhooks / warm.seconds).toFixed(0)} webhooks/s\n`,
    );
  }
  const cases = [];
  for (const [index, { delay, saves }] of variants.entries())
    cases.push(await routerCase(index, delay, saves));

  // CPU of this process (the consumer or the router) per webhook: steadier than the rates on a
  // shared machine. The servers' CPU is theirs over the same span; on shared servers it includes
  // other sessions' load.
  const perWebhook = (cost: CaseCost, n: number) => (cost.cpuMicros / n).toFixed(0);
  const bareRate = consumed / bareSeconds;
  const bareCpu = bareCost.cpuMicros / consumed;
  const rows = [
    `| case | webhooks | seconds | webhooks/s | x bare | events/s | bench process CPU µs/webhook | x bare | bench process peak RSS MB |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    `| bare consume of the raw topic (decode, no-op) | ${String(consumed)} | ${bareSeconds.toFixed(1)} | ${bareRate.toFixed(0)} | 1 | - | ${perWebhook(bareCost, consumed)} | 1 | ${bareCost.rssMb.toFixed(0)} |`,
    ...cases.map(
      (c) =>
        `| ${c.name} | ${String(c.webhooks)} | ${c.seconds.toFixed(1)} | ${(c.webhooks / c.seconds).toFixed(0)} | ${(c.webhooks / c.seconds / bareRate).toFixed(2)} | ${(c.events / c.seconds).toFixed(0)} | ${perWebhook(c.cost, c.webhooks)} | ${(c.cost.cpuMicros / c.webhooks / bareCpu).toFixed(1)} | ${c.cost.rssMb.toFixed(0)} |`,
    ),
  ];
  process.stdout.write(`${rows.join("\n")}\n`);
  const perCase = (name: string, cost: CaseCost, n: number) =>
    `| ${name} | ${[...cost.trips]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([trip, k]) => `${trip} ${((k * 1000) / n).toFixed(1)}`)
      .join(
        ", ",
      )} | ${(([...cost.trips.values()].reduce((a, b) => a + b, 0) * 1000) / n).toFixed(0)} |`;
  process.stdout.write(
    [
      "",
      `| case | round trips per 1,000 webhooks (Kafka requests by API, MongoDB commands${COUNT_COMMANDS ? "" : ": not counted, MONGO_COMMAND_METRICS=true counts them"}) | all per 1,000 webhooks |`,
      "| --- | --- | ---: |",
      perCase("bare consume", bareCost, consumed),
      ...cases.map((c) => perCase(c.name, c.cost, c.webhooks)),
      "",
    ].join("\n"),
  );
  if (bareCost.servers.size > 0) {
    const serverRow = (name: string, cost: CaseCost, n: number) =>
      `| ${name} | ${[...cost.servers].map(([server, s]) => `${server} ${((s * 1e6) / n).toFixed(0)}`).join(", ")} |`;
    process.stdout.write(
      [
        "",
        "| case | server CPU µs per webhook over the case (shared servers: other sessions' load included) |",
        "| --- | --- |",
        serverRow("bare consume", bareCost, consumed),
        ...cases.map((c) => serverRow(c.name, c.cost, c.webhooks)),
        "",
      ].join("\n"),
    );
  }
  for (const c of cases) {
    process.stdout.write(
      `\n${c.name}, steps: ${[...c.steps]
        .map(
          ([name, s]) =>
            `${name} ${String(s.calls)} calls, ${(s.items / s.calls).toFixed(1)} items/call, ${(s.ms / s.calls).toFixed(1)} ms/call`,
        )
        .join("; ")}\n`,
    );
  }
  process.stdout.write(
    `\nload average at the end: ${readFileSync("/proc/loadavg", "utf8").trim()}\n`,
  );

  await mongo.db.dropDatabase();
  await mongo.close();
  await producer.disconnect();
}

await main();
