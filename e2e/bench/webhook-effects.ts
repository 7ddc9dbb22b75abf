// From a webhook's acknowledgement to its effect, through the services as processes against real
// servers (Kafka, the registry, the MongoDB-wire server), Meta being the simulator in this process
// posting signed webhooks to ingress. Two cases (BENCH_CASE):
//   media  (issue 24, docs/benchmarks.md "Media ingest"): users send images, voice notes,
//          documents and videos of mixed sizes at BENCH_MEDIA_RATE; for each, the time from the
//          simulator reading ingress's 200 to MediaStored read back from the media topic (p50/p99),
//          beside, in the same run, the same webhook's InboundMessageReceived read back (ingress and
//          router: the floor any consumer of inbound media pays) and a bare download-and-write of
//          the same files (Graph look-up, GET, write to a file; no checks, no encryption).
//   stop   (issue 23, docs/benchmarks.md "Consent"): BENCH_STOPS users opt in to marketing (one
//          import through the consent API), then reply STOP at BENCH_STOP_RATE while sends go
//          out at BENCH_SEND_RATE in all: one scheduler asks every send, a due probe first (a
//          marketing template to a STOPped user every BENCH_PROBE_MS until one is refused, then
//          BENCH_PROBES_AFTER more), utility templates to 2,000 other contacts filling the rest.
//          Enforcement: from the STOP webhook's 200 to the router's decision refusing the first
//          probe (its SendRejected occurredAt), bracketed below by the router's last acceptance
//          of a probe (its DispatchMessage occurredAt), beside the same STOP's
//          ConsentKeywordReceived (the webhook as a typed event: the floor) and its
//          ConsentRevoked (the consent service's decision) read back in the same run. A marketing
//          probe accepted after a refusal of the same user is counted as a leak.
//          BENCH_STOP_KIND=preferences: instead of the reply, the opt-out comes as Meta's
//          user_preferences webhook (marketing_messages: stop), signed and posted by the bench
//          (the simulator has no such webhook), and its typed event is UserPreferencesUpdated.
// Run with bench/media-latency.sh or bench/consent.sh (they start and stop their own servers).
// Every loop is bounded in count and time; everything talks to 127.0.0.1 only.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createParleyClient } from "@parley/client";
import {
  createSimulator,
  serveSimulator,
  type InboundContent,
  type WebhookDeliverer,
} from "@parley/cloud-api-sim";
import { createCatalog } from "@parley/contracts";
import {
  createEventConsumer,
  createKafka,
  createRegistry,
  createSerde,
  provisionTopics,
} from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { startStack, waitFor } from "@parley/testkit";
import {
  freePort,
  repoRoot,
  serviceEnv,
  startService,
  stopService,
  type ServiceProcess,
} from "@parley/e2e";

const CASE = process.env["BENCH_CASE"] ?? "media";
if (CASE !== "media" && CASE !== "stop")
  throw new Error(`BENCH_CASE is media or stop, not ${CASE}`);
const num = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? String(fallback));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
// media
const MEDIA_FILES = num("BENCH_MEDIA_FILES", 200);
const MEDIA_RATE = num("BENCH_MEDIA_RATE", 5);
const MEDIA_MAX_MB = num("BENCH_MEDIA_MAX_MB", 8);
// stop
const STOPS = num("BENCH_STOPS", 1000);
const STOP_RATE = num("BENCH_STOP_RATE", 20);
const STOP_KIND = process.env["BENCH_STOP_KIND"] ?? "reply";
if (STOP_KIND !== "reply" && STOP_KIND !== "preferences")
  throw new Error(`BENCH_STOP_KIND must be reply or preferences, got ${STOP_KIND}`);
/** How the opt-out's typed event is named in the report. */
const TYPED = STOP_KIND === "reply" ? "ConsentKeywordReceived" : "UserPreferencesUpdated";
/** A user_preferences opt-out is followed by its contact (it has no wamid). */
const preferenceKey = (contactId: string): string => `pref:${contactId}`;
const SEND_RATE = num("BENCH_SEND_RATE", 500);
const PROBE_MS = num("BENCH_PROBE_MS", 250);
const PROBES_AFTER = num("BENCH_PROBES_AFTER", 2);
const CONSENT_API_KEY = "bench-effects-consent-key";
const WARMUP_SECONDS = num("BENCH_WARMUP_SECONDS", 20);
const PROBE_LIMIT_MS = num("BENCH_PROBE_LIMIT_MS", 30_000);

const OPS_TOKEN = "bench-effects-ops-token";
const GRAPH_TOKEN = "bench-effects-graph-token";
const APP_SECRET = "bench-effects-app-secret";
const WABA = "102290129340599";
const NUMBER = "106540352242599";

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const stats = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? NaN };
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const procStatus = (pid: number | undefined, field: "VmHWM" | "VmRSS"): number => {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(
      readFileSync(`/proc/${String(pid)}/status`, "utf8"),
    )?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
};
// CPU seconds of one process (utime + stime of /proc/<pid>/stat, 100 ticks/s).
const cpuSeconds = (pid: number | undefined): number => {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
};
const row = (...cells: (string | number)[]): string =>
  `| ${cells.map((c) => (typeof c === "number" ? (Number.isInteger(c) ? String(c) : c.toFixed(1)) : c)).join(" | ")} |`;

const stack = await startStack();
const ns = stack.namespace(`bench-${CASE}`);
const catalog = createCatalog({
  prefix: `${ns.id}.`,
  partitions: { contact: 4, business: 4, raw: 2 },
});
const kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
const serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
const consumers = [...new Set(catalog.topics.flatMap((t) => t.consumers))].filter((c) =>
  /^[a-z0-9][a-z0-9._-]*$/.test(c),
);
progress("provisioning topics");
await provisionTopics({
  kafka,
  serde,
  topics: [
    ...catalog.topics,
    ...[...consumers, "bench-effects-reader"].map((c) => catalog.deadLetterTopic(c)),
  ],
});

// Meta's side reads ingress's answer here: the acknowledgement time of every inbound message.
const ackedAt = new Map<string, number>();
const deliver: WebhookDeliverer = async (url, body, headers) => {
  const res = await fetch(url, { method: "POST", body, headers });
  await res.arrayBuffer();
  const at = Date.now();
  if (res.status === 200 && body.includes('"messages"')) {
    const payload = JSON.parse(body) as {
      entry: { changes: { value: { messages?: Record<string, unknown>[] } }[] }[];
    };
    for (const entry of payload.entry)
      for (const change of entry.changes)
        for (const m of change.value.messages ?? []) {
          const media = m[String(m["type"])] as { id?: string } | undefined;
          const key = typeof media?.id === "string" ? media.id : String(m["id"]);
          if (!ackedAt.has(key)) ackedAt.set(key, at);
        }
  }
  return res.status;
};
const webhookPort = await freePort();
const sim = createSimulator({
  seed: `bench-${CASE}`,
  appSecret: APP_SECRET,
  accessTokens: [{ token: GRAPH_TOKEN }],
  businesses: [
    {
      wabaId: WABA,
      phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100599", throughputMps: 1000 }],
    },
  ],
  webhookUrls: [`http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`],
  webhooks: { retryDelaysMs: [0, 250, 500, 1_000, 2_000], retryTimeScale: 1, concurrency: 32 },
  deliver,
  statuses: { readProbability: 0 },
  retainMessages: 200_000,
});
sim.addTemplate({
  wabaId: WABA,
  name: "order_update",
  language: "en_US",
  category: "UTILITY",
  status: "APPROVED",
  body: "Hello {{1}}, order {{2}} has shipped.",
});
sim.addTemplate({
  wabaId: WABA,
  name: "summer_offer",
  language: "en_US",
  category: "MARKETING",
  status: "APPROVED",
  body: "Our summer offers are here.",
});
const simServer = await serveSimulator(sim, { port: await freePort(), host: "127.0.0.1" });
const consentApiPort = await freePort();

const numbers = JSON.stringify({
  numbers: [{ phoneNumberId: NUMBER, wabaId: WABA, mps: 1000, accessToken: GRAPH_TOKEN }],
});
const logDir = join(repoRoot, ".parley", `bench-${CASE}`, ns.id);
const storeDir = join(logDir, "media-store");
const services: ServiceProcess[] = [];
process.on("exit", () => {
  for (const s of services) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});
const start = async (name: string, own: Record<string, string>): Promise<ServiceProcess> => {
  const service = startService(
    name,
    await freePort(),
    serviceEnv(
      stack,
      { database: ns.database(), topicPrefix: catalog.prefix, opsToken: OPS_TOKEN },
      { LOG_LEVEL: "warn", PARLEY_NUMBERS: numbers, WA_GRAPH_BASE_URL: simServer.url, ...own },
    ),
    logDir,
  );
  services.push(service);
  await waitFor(
    async () =>
      (
        await fetch(`${service.url}/readyz`, {
          headers: { authorization: `Bearer ${OPS_TOKEN}` },
        }).catch(() => undefined)
      )?.status === 200,
    { timeoutMs: 120_000, description: `${name} ready` },
  );
  return service;
};

// What the bench reads back, by media id (media) or wamid (stop), at the time it read it.
const typedAt = new Map<string, number>();
const storedAt = new Map<string, number>();
const failed = new Map<string, string>();
const revokedAt = new Map<string, number>();
/** When the STOP's typed event and its marketing ConsentRevoked were appended (record timestamps
 * set by their producers, the router and the consent service): the stages without the bench's
 * own read-back lag. */
const typedAppendedAt = new Map<string, number>();
const revokedAppendedAt = new Map<string, number>();
/** Where each STOP's marketing ConsentRevoked sits on the consent topic, by wamid. */
const revokedRecordOf = new Map<string, { partition: number; offset: bigint }>();
/**
 * When each enforcing group had committed past that record, by wamid: the router's gates
 * (every later send decision refuses) and the sender's gates (every dispatch not yet handed to
 * Graph refuses). A consumer commits after it applied a record (the gates every 50 ms,
 * `PROMPT_COMMIT_INTERVAL_MS`), so this is an upper bound, by up to the commit interval and the
 * 50 ms poll.
 */
const learnedAt = { router: new Map<string, number>(), sender: new Map<string, number>() };
/** The consent entries (event ids) each STOP became, by wamid; marketing opt-ins by contact. */
const revokedIdsOf = new Map<string, Set<string>>();
const grantedOf = new Set<string>();
/** The router's decision time (DispatchMessage occurredAt) of each accepted request. */
const dispatchedAt = new Map<string, number>();
/** Send outcomes by request id: type, reason, and the router's or sender's decision time. */
const outcomes = new Map<
  string,
  { type: string; reason?: string; consent?: string; detail?: string; at: number }
>();
const reader = createEventConsumer({
  kafka,
  serde,
  catalog,
  consumer: "bench-effects-reader",
  topics:
    CASE === "media"
      ? [catalog.topic("inbound-messages"), catalog.topic("media")]
      : [catalog.topic("consent"), catalog.topic("send-outcomes"), catalog.topic("dispatch")],
  tuning: { fromBeginning: true, maxInFlight: 5_000 },
  handle: (record) => {
    const now = Date.now();
    const e = record.value;
    if (e.type === "InboundMessageReceived") {
      const m = e.data.message as Record<string, unknown>;
      const media = m[String(m["type"])] as { id?: string } | undefined;
      if (typeof media?.id === "string") typedAt.set(media.id, now);
    } else if (e.type === "MediaStored") {
      if (!storedAt.has(e.data.mediaId)) storedAt.set(e.data.mediaId, now);
    } else if (e.type === "MediaFailed") {
      failed.set(e.data.mediaId, e.data.reason);
    } else if (e.type === "ConsentKeywordReceived") {
      typedAt.set(e.data.wamid, now);
      typedAppendedAt.set(e.data.wamid, Number(record.timestamp));
    } else if (e.type === "UserPreferencesUpdated") {
      const key = preferenceKey(e.data.contactId);
      if (!typedAt.has(key)) {
        typedAt.set(key, now);
        typedAppendedAt.set(key, Number(record.timestamp));
      }
    } else if (e.type === "ConsentRevoked") {
      const input = e.data.inputId ?? "";
      const wamid = input.startsWith("keyword:")
        ? input.slice("keyword:".length)
        : input.startsWith("preferences:")
          ? preferenceKey(e.data.contactId)
          : undefined;
      if (wamid !== undefined) {
        const ids = revokedIdsOf.get(wamid) ?? new Set<string>();
        ids.add(e.eventId);
        revokedIdsOf.set(wamid, ids);
        if (e.data.purpose === "marketing" && !revokedAt.has(wamid)) {
          revokedAt.set(wamid, now);
          revokedAppendedAt.set(wamid, Number(record.timestamp));
          revokedRecordOf.set(wamid, {
            partition: record.partition,
            offset: BigInt(record.offset),
          });
        }
      }
    } else if (e.type === "ConsentGranted" && e.data.purpose === "marketing") {
      grantedOf.add(e.data.contactId);
    } else if (e.type === "DispatchMessage") {
      if (!dispatchedAt.has(e.correlationId))
        dispatchedAt.set(e.correlationId, Date.parse(e.occurredAt));
    } else if (e.type === "SendAccepted" || e.type === "SendRejected" || e.type === "SendFailed") {
      const reason = "reason" in e.data ? e.data.reason : undefined;
      const consent = "consentEventId" in e.data ? e.data.consentEventId : undefined;
      const detail = "detail" in e.data ? e.data.detail : undefined;
      outcomes.set(e.correlationId, {
        type: e.type,
        ...(reason === undefined ? {} : { reason }),
        ...(consent === undefined ? {} : { consent }),
        ...(detail === undefined ? {} : { detail }),
        at: Date.parse(e.occurredAt),
      });
    }
    return Promise.resolve();
  },
});
await reader.start();

const header = `${CASE}${CASE === "stop" ? ` (${STOP_KIND})` : ""} webhook-effects benchmark, ${new Date().toISOString()}, ${String(cpus().length)} CPUs (${cpus()[0]?.model ?? "?"}), load average ${loadavg()
  .map((l) => l.toFixed(2))
  .join(" ")}`;

try {
  if (CASE === "media") await mediaCase();
  else await stopCase();
} finally {
  await Promise.all(services.map((s) => stopService(s)));
  await reader.stop();
  await simServer.close();
  await sim.stop();
  rmSync(storeDir, { recursive: true, force: true });
  const mongo = createMongo({ url: stack.mongoUrl, database: ns.database(), appName: ns.id });
  await mongo.db.dropDatabase();
  await mongo.close();
  await stack.stop();
}

async function mediaCase(): Promise<void> {
  await start("ingress", {
    WEBHOOK_PORT: String(webhookPort),
    WA_APP_SECRET: APP_SECRET,
    WA_VERIFY_TOKEN: "bench-effects-verify",
  });
  await start("router", {});
  const media = await start("media", {
    MEDIA_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    MEDIA_STORE_DIR: storeDir,
    MEDIA_SWEEP_INTERVAL_MS: "0",
  });
  progress("ingress, router and media ready");

  // A mix of kinds and sizes: images 20 KB-1 MB, voice notes 10-500 KB, documents 50 KB-4 MB,
  // videos 1 MB-BENCH_MEDIA_MAX_MB; the sizes cycle so every run sends the same bytes' worth.
  const MB = 1024 * 1024;
  const kinds = [
    { type: "image", mime: "image/jpeg", head: Buffer.from([0xff, 0xd8, 0xff, 0xe0]) },
    { type: "audio", mime: "audio/ogg", head: Buffer.from("OggS") },
    { type: "document", mime: "application/pdf", head: Buffer.from("%PDF-1.7\n") },
    {
      type: "video",
      mime: "video/mp4",
      head: Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypmp42")]),
    },
  ] as const;
  const sizeOf = (kind: number, i: number): number => {
    const f = ((i * 7919) % 100) / 100;
    const ranges: readonly (readonly [number, number])[] = [
      [20_000, MB],
      [10_000, 500_000],
      [50_000, 4 * MB],
      [MB, MEDIA_MAX_MB * MB],
    ];
    const [lo, hi] = ranges[kind] ?? [MB, MB];
    return Math.round(lo + f * (hi - lo));
  };
  const pool = randomBytes(Math.max(4 * MB, MEDIA_MAX_MB * MB));
  const users = Array.from({ length: 50 }, (_, i) => String(447_700_950_000 + i));
  for (const waId of users) sim.addUser({ waId });
  const sent: { id: string; kind: string; bytes: number; sha256: string }[] = [];
  const began = Date.now();
  const cpuBefore = cpuSeconds(media.child.pid);
  let bytes = 0;
  progress(`${String(MEDIA_FILES)} files at ${String(MEDIA_RATE)}/s`);
  for (let i = 0; i < MEDIA_FILES; i++) {
    await sleep(began + (i / MEDIA_RATE) * 1_000 - Date.now());
    const k = i % kinds.length;
    const kind = kinds[k] ?? kinds[0];
    const size = sizeOf(k, i);
    // Unique bytes per file (its number after the magic bytes) without generating megabytes of
    // randomness on schedule: the rest is a slice of one random pool.
    const tag = Buffer.from(`#${String(i)}#`);
    const data = Buffer.concat([
      kind.head,
      tag,
      pool.subarray(0, size - kind.head.length - tag.length),
    ]);
    bytes += size;
    const content: InboundContent = {
      type: kind.type,
      mimeType: kind.mime,
      data,
      ...(kind.type === "document" ? { filename: `f-${String(i)}.pdf` } : {}),
    };
    const { message } = sim.userSends(users[i % users.length] ?? "", content, {
      phoneNumberId: NUMBER,
    });
    const m = (message as unknown as Record<string, { id: string; sha256: string }>)[kind.type];
    if (m === undefined) throw new Error("the simulator made no media");
    sent.push({ id: m.id, kind: kind.type, bytes: size, sha256: m.sha256 });
  }
  const sendSeconds = (Date.now() - began) / 1_000;
  await waitFor(() => sent.every((f) => storedAt.has(f.id) || failed.has(f.id)), {
    timeoutMs: 180_000,
    intervalMs: 100,
    description: "every file stored or failed",
  }).catch(() => {
    progress("not every file had an outcome within 180 s; reporting what did");
  });
  const seconds = (Date.now() - began) / 1_000;
  const mediaCpu = cpuSeconds(media.child.pid) - cpuBefore;
  const mediaPeak = procStatus(media.child.pid, "VmHWM");
  // Media's own time per file (first Graph look-up to stored), from its metrics: the rest of the
  // webhook-to-stored time is the way there and the wait for a download slot.
  const metricsText = await fetch(`${media.url}/metrics`, {
    headers: { authorization: `Bearer ${OPS_TOKEN}` },
  }).then((r) => r.text());
  const metric = (name: string) =>
    Number(
      new RegExp(`^\\w*${name}\\{[^}]*outcome="stored"[^}]*\\} (\\S+)$`, "m").exec(
        metricsText,
      )?.[1],
    );
  const fetchMeanMs =
    (metric("media_fetch_seconds_sum") / metric("media_fetch_seconds_count")) * 1_000;

  // Baseline: the same files, downloaded bare (look-up, GET, write), 4 at a time.
  const bareDir = join(logDir, "bare");
  mkdirSync(bareDir, { recursive: true });
  const bare: number[] = [];
  const auth = { authorization: `Bearer ${GRAPH_TOKEN}` };
  const queue = [...sent];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        const t0 = Date.now();
        const look = (await (
          await fetch(`${simServer.url}/v23.0/${f.id}`, { headers: auth })
        ).json()) as { url: string };
        const res = await fetch(look.url, { headers: auth });
        if (!res.ok || res.body === null) throw new Error(`bare GET ${String(res.status)}`);
        await pipeline(Readable.fromWeb(res.body), createWriteStream(join(bareDir, f.id)));
        bare.push(Date.now() - t0);
      }
    }),
  );
  rmSync(bareDir, { recursive: true, force: true });

  const lat = (of: Map<string, number>, kind?: string) =>
    stats(
      sent
        .filter((f) => kind === undefined || f.kind === kind)
        .flatMap((f) => {
          const a = ackedAt.get(f.id);
          const b = of.get(f.id);
          return a === undefined || b === undefined ? [] : [b - a];
        }),
    );
  console.log(`\n${header}\n`);
  console.log(
    `${String(sent.length)} files, ${(bytes / MB).toFixed(1)} MB, sent in ${sendSeconds.toFixed(1)} s (asked: ${String(MEDIA_RATE)}/s), all outcomes after ${seconds.toFixed(1)} s; stored ${String(storedAt.size)}, failed ${String(failed.size)}${failed.size > 0 ? ` (${[...new Set(failed.values())].join(", ")})` : ""}\n`,
  );
  console.log(row("measure", "n", "p50 ms", "p99 ms", "max ms"));
  console.log(row("---", "---:", "---:", "---:", "---:"));
  const line = (name: string, s: ReturnType<typeof stats>) => {
    console.log(row(name, s.n, s.p50, s.p99, s.max));
  };
  line("webhook 200 -> InboundMessageReceived read back (baseline)", lat(typedAt));
  line("bare look-up + download + write of the same file (baseline)", stats(bare));
  line("webhook 200 -> MediaStored read back", lat(storedAt));
  for (const k of kinds) line(`  of which ${k.type}`, lat(storedAt, k.type));
  console.log(
    `\nmedia: ${((mediaCpu * 1_000) / Math.max(1, storedAt.size)).toFixed(1)} ms CPU per stored file (${((mediaCpu * 1_000) / (bytes / MB)).toFixed(1)} ms per MB), mean ${fetchMeanMs.toFixed(0)} ms from its first Graph look-up to stored, peak RSS ${mediaPeak.toFixed(0)} MB`,
  );
  console.log("Record the figures in docs/benchmarks.md, section Media ingest.");
}

async function stopCase(): Promise<void> {
  await start("consent", {
    CONSENT_MASTER_KEYS: JSON.stringify([
      { id: "bench-1", key: randomBytes(32).toString("base64") },
    ]),
    CONSENT_API_PORT: String(consentApiPort),
    CONSENT_API_KEYS: JSON.stringify([
      {
        id: "bench",
        keySha256: createHash("sha256").update(CONSENT_API_KEY).digest("hex"),
        scopes: ["write", "read"],
      },
    ]),
  });
  await start("ingress", {
    WEBHOOK_PORT: String(webhookPort),
    WA_APP_SECRET: APP_SECRET,
    WA_VERIFY_TOKEN: "bench-effects-verify",
  });
  // No marketing frequency cap: a STOPped contact gets several marketing probes a second.
  // BENCH_ROUTER_NODE_OPTIONS: e.g. --heapsnapshot-signal=SIGUSR2 (a heap snapshot on demand).
  const routerNodeOptions = process.env["BENCH_ROUTER_NODE_OPTIONS"];
  const router = await start("router", {
    ROUTER_CONSENT_DECIDER: "consent",
    ROUTER_MARKETING_CAP_COUNT: "0",
    ...(routerNodeOptions === undefined ? {} : { NODE_OPTIONS: routerNodeOptions }),
  });
  const sender = await start("sender", {});
  progress("consent, ingress, router and sender ready");

  const client = createParleyClient({
    brokers: stack.kafkaBrokers,
    schemaRegistryUrl: stack.schemaRegistryUrl,
    clientId: `${ns.id}-bench`,
    prefix: catalog.prefix,
  });
  let sequence = 0;
  let pending = 0;
  const send = async (to: string, marketing: boolean): Promise<string> => {
    const i = sequence++;
    pending++;
    try {
      const { requestId } = await client.requestSend({
        idempotencyKey: `bench-${String(i)}`,
        recipient: { phone: `+${to}` },
        sender: { kind: "businessNumber", phoneNumberId: NUMBER },
        content: marketing
          ? { type: "template", template: { name: "summer_offer", language: { code: "en_US" } } }
          : {
              type: "template",
              template: {
                name: "order_update",
                language: { code: "en_US" },
                components: [
                  {
                    type: "body",
                    parameters: [
                      { type: "text", text: "Ana" },
                      { type: "text", text: String(i) },
                    ],
                  },
                ],
              },
            },
        category: marketing ? "marketing" : "utility",
      });
      return requestId;
    } finally {
      pending--;
    }
  };

  // The STOPping users opted in to marketing first (one import through the consent API, an hour
  // before the run), so their probes are marketing templates: accepted until the STOP is enforced,
  // refused `opted_out` after; a marketing probe accepted after a refusal is a leak.
  const stoppers = Array.from({ length: STOPS }, (_, i) => String(447_900_000_000 + i));
  for (const waId of stoppers) sim.addUser({ waId });
  const grantedAt = new Date(Date.now() - 3_600_000).toISOString();
  const imported = await fetch(`http://127.0.0.1:${String(consentApiPort)}/v1/imports?format=csv`, {
    method: "POST",
    headers: { authorization: `Bearer ${CONSENT_API_KEY}`, "content-type": "text/csv" },
    body: [
      "contactId,decision,purposes,occurredAt,channel,businessName,wordingText,evidence.formId",
      ...stoppers.map((c) => `${c},granted,marketing,${grantedAt},web,Acme,Offers OK,bench-form`),
    ].join("\n"),
  }).then((r) => r.text());
  if (!imported.includes(`"recorded":${String(STOPS)}`))
    throw new Error(`the opt-in import did not record every row: ${imported.slice(-300)}`);
  await waitFor(() => stoppers.every((c) => grantedOf.has(c)), {
    timeoutMs: 120_000,
    intervalMs: 250,
    description: "every STOPping user's marketing opt-in on the consent topic",
  });
  progress(`${String(STOPS)} marketing opt-ins recorded`);

  // One scheduler asks every send, SEND_RATE a second in all: a due probe first, the background
  // (utility templates to 2,000 other contacts) fills the rest; bounded in flight (1,000).
  interface Stopper {
    readonly contact: string;
    wamid?: string;
    nextProbeAt: number;
    startedAt: number;
    refusedAt?: number;
    probesAfter: number;
    readonly probes: { requestId: string; at: number; late: number }[];
  }
  const active = new Set<Stopper>();
  const all: Stopper[] = [];
  const counts = { background: 0, probes: 0, deferred: 0 };
  const refusalRead = (s: Stopper) =>
    s.probes.some((p) => outcomes.get(p.requestId)?.reason === "opted_out");
  const schedule = { on: true, t0: Date.now(), asked: 0 };
  const loop = (async () => {
    while (schedule.on) {
      const now = Date.now();
      let due = Math.floor(((now - schedule.t0) / 1_000) * SEND_RATE) - schedule.asked;
      for (const s of active) {
        if (s.nextProbeAt > now) continue;
        if (s.refusedAt === undefined && refusalRead(s)) s.refusedAt = now;
        if (
          (s.refusedAt !== undefined && s.probesAfter >= PROBES_AFTER) ||
          now - s.startedAt > PROBE_LIMIT_MS
        ) {
          active.delete(s);
          continue;
        }
        if (due <= 0 || pending >= 1_000) {
          counts.deferred++;
          continue;
        }
        due--;
        schedule.asked++;
        counts.probes++;
        if (s.refusedAt !== undefined) s.probesAfter++;
        const late = now - s.nextProbeAt;
        s.nextProbeAt = now + PROBE_MS;
        void send(s.contact, true).then(
          (requestId) => s.probes.push({ requestId, at: now, late }),
          () => undefined,
        );
      }
      while (due > 0 && pending < 1_000) {
        due--;
        schedule.asked++;
        void send(String(447_800_000_000 + (counts.background++ % 2_000)), false).catch(
          () => undefined,
        );
      }
      await sleep(5);
    }
  })();
  progress(`warm-up: ${String(SEND_RATE)} sends/s for ${String(WARMUP_SECONDS)} s`);
  await sleep(WARMUP_SECONDS * 1_000);

  // The enforcing groups' committed offsets on the consent topic, polled every 50 ms.
  const admin = kafka.admin();
  await admin.connect();
  const consentTopic = catalog.topic("consent").name;
  const enforcing = {
    router: `${catalog.prefix}parley.router-gates`,
    sender: `${catalog.prefix}parley.sender-gates`,
  } as const;
  const poll = { on: true };
  const poller = (async () => {
    while (poll.on) {
      for (const who of ["router", "sender"] as const) {
        const learned = learnedAt[who];
        if ([...revokedRecordOf.keys()].every((w) => learned.has(w))) continue;
        const committed = await admin
          .fetchOffsets({ groupId: enforcing[who], topics: [consentTopic] })
          .catch(() => []);
        const now = Date.now();
        const byPartition = new Map(
          (committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]),
        );
        for (const [wamid, at] of revokedRecordOf) {
          if (!learned.has(wamid) && (byPartition.get(at.partition) ?? -1n) > at.offset)
            learned.set(wamid, now);
        }
      }
      await sleep(50);
    }
  })();

  const cpuBefore = new Map(services.map((s) => [s.name, cpuSeconds(s.child.pid)]));
  const stagesBefore = await stageSums(services);
  const askedBefore = { ...counts, asked: schedule.asked };
  const began = Date.now();
  progress(
    `${String(STOPS)} STOPs at ${String(STOP_RATE)}/s, a marketing probe every ${String(PROBE_MS)} ms per STOPped user until refused (+${String(PROBES_AFTER)}), within ${String(SEND_RATE)} sends/s in all`,
  );
  for (const [i, contact] of stoppers.entries()) {
    await sleep(began + (i / STOP_RATE) * 1_000 - Date.now());
    const wamid =
      STOP_KIND === "reply"
        ? sim.userSends(contact, { type: "stop" }, { phoneNumberId: NUMBER }).wamid
        : preferenceKey(contact);
    if (STOP_KIND === "preferences") void postPreference(contact);
    const now = Date.now();
    const s: Stopper = {
      contact,
      wamid,
      nextProbeAt: now,
      startedAt: now,
      probesAfter: 0,
      probes: [],
    };
    all.push(s);
    active.add(s);
  }
  await waitFor(() => active.size === 0, {
    timeoutMs: PROBE_LIMIT_MS + 30_000,
    intervalMs: 100,
    description: "every STOPped user's probing done",
  }).catch(() => {
    progress("probing not done in time; reporting what was asked");
  });
  const stopSeconds = (Date.now() - began) / 1_000;
  const asked = {
    total: schedule.asked - askedBefore.asked,
    probes: counts.probes - askedBefore.probes,
    background: counts.background - askedBefore.background,
  };
  schedule.on = false;
  await loop;
  // Every probe's outcome or dispatch and every STOP's decision read back (bounded).
  const allProbes = all.flatMap((s) => s.probes);
  await waitFor(
    () =>
      allProbes.every((p) => outcomes.has(p.requestId) || dispatchedAt.has(p.requestId)) &&
      all.every((s) => revokedAt.has(s.wamid ?? "")),
    { timeoutMs: 120_000, intervalMs: 250, description: "every probe's outcome read back" },
  ).catch(() => {
    progress("not every probe had an outcome within 120 s; reporting what did");
  });
  const cpuUsed = new Map(
    services.map((s) => [s.name, cpuSeconds(s.child.pid) - (cpuBefore.get(s.name) ?? NaN)]),
  );
  const stagesAfter = await stageSums(services);
  await waitFor(
    () =>
      [...revokedRecordOf.keys()].every((w) => learnedAt.router.has(w) && learnedAt.sender.has(w)),
    { timeoutMs: 30_000, intervalMs: 100, description: "both enforcing groups past every STOP" },
  ).catch(() => {
    progress("not every STOP was committed past by both enforcing groups within 30 s");
  });
  poll.on = false;
  await poller;
  await admin.disconnect();
  // Enforced: from the STOP's 200 until both enforcing groups had applied its ConsentRevoked.
  const known = { router: [] as number[], sender: [] as number[], both: [] as number[] };
  let decidedAfterKnown = 0;
  let graphAfterKnown = 0;
  // Marketing probes Graph accepted (the simulator's acceptance time: the hand-over) after the
  // sender's gate had committed past the STOP (must be 0), and within the measure's resolution
  // before it (the gate applies before it commits: up to the 50 ms commit interval and the
  // 50 ms poll; informative).
  let handedAfterKnown = 0;
  let handedWithinResolution = 0;
  const enforced: number[] = [];
  const lowerBound: number[] = [];
  const bracket: number[] = [];
  const typed: number[] = [];
  const decided: number[] = [];
  // Stages of each enforced STOP, from the record timestamps: ingress + router (webhook 200 to
  // the typed STOP appended), consent (typed STOP appended to ConsentRevoked appended), router or
  // sender learning it (ConsentRevoked appended to the first refusal), and the bench's reader.
  const stage = {
    router: [] as number[],
    consent: [] as number[],
    learn: [] as number[],
    readLag: [] as number[],
  };
  const late: number[] = allProbes.map((p) => p.late);
  let leaks = 0;
  let unenforced = 0;
  let unacknowledged = 0;
  let otherConsent = 0;
  let bySender = 0;
  let noConsent = 0;
  for (const s of all) {
    const wamid = s.wamid ?? "";
    const ack = ackedAt.get(wamid);
    if (ack === undefined) {
      unacknowledged++;
      continue;
    }
    const t = typedAt.get(wamid);
    const r = revokedAt.get(wamid);
    if (t !== undefined) typed.push(t - ack);
    if (r !== undefined) decided.push(r - ack);
    const kr = learnedAt.router.get(wamid);
    const ks = learnedAt.sender.get(wamid);
    if (kr !== undefined) known.router.push(kr - ack);
    if (ks !== undefined) known.sender.push(ks - ack);
    if (kr !== undefined && ks !== undefined) known.both.push(Math.max(kr, ks) - ack);
    // The check of those figures: no probe let through by the router after its group knew, none
    // accepted by Graph after the sender's gate knew (invariant 8: the gate is the last line).
    for (const p of s.probes) {
      const d = dispatchedAt.get(p.requestId);
      const o = outcomes.get(p.requestId);
      if (kr !== undefined && d !== undefined && d > kr) decidedAfterKnown++;
      if (ks !== undefined && o?.type === "SendAccepted" && o.at > ks) graphAfterKnown++;
    }
    // Only marketing probes go to a STOPped user here.
    if (ks !== undefined)
      for (const m of sim.messages({ to: s.contact })) {
        if (m.acceptedAt > ks) handedAfterKnown++;
        else if (m.acceptedAt > ks - 100) handedWithinResolution++;
      }
    // The last decision on each probe: refused (SendRejected's occurredAt, by the router or, once
    // dispatched, the sender's gate), or let through: the router's DispatchMessage occurredAt
    // (the sender's gate passed it later, before its SendAccepted, which is stamped after Graph).
    const decisions = s.probes
      .map((p) => {
        const o = outcomes.get(p.requestId);
        const d = dispatchedAt.get(p.requestId);
        return o?.type === "SendRejected"
          ? {
              at: o.at,
              refused: o.reason === "opted_out",
              reason: o.reason,
              consent: o.consent,
              detail: o.detail,
              // Dispatched by the router, then refused by the sender's gate before Graph.
              bySender: d !== undefined,
            }
          : d === undefined && o?.type !== "SendAccepted"
            ? undefined
            : {
                at: d ?? o?.at ?? NaN,
                refused: false,
                reason: undefined,
                consent: undefined,
                detail: undefined,
                bySender: false,
              };
      })
      .filter((d) => d !== undefined)
      .sort((a, b) => a.at - b.at);
    noConsent += decisions.filter((d) => d.reason === "no_consent").length;
    const first = decisions.find((d) => d.refused);
    if (first === undefined) {
      unenforced++;
      continue;
    }
    if (first.bySender) bySender++;
    // The router names the entry it relied on; the sender's gate carries the router's (the grant).
    if (
      !first.bySender &&
      first.consent !== undefined &&
      !(revokedIdsOf.get(wamid) ?? new Set()).has(first.consent)
    ) {
      if (otherConsent === 0)
        progress(
          `a refusal relying on another entry than the STOP's (${[...(revokedIdsOf.get(wamid) ?? [])].join(", ")}): ${first.detail ?? ""}`,
        );
      otherConsent++;
    }
    const lastAccepted = decisions.filter((d) => !d.refused && d.at < first.at).at(-1);
    enforced.push(first.at - ack);
    const ta = typedAppendedAt.get(wamid);
    const ra = revokedAppendedAt.get(wamid);
    if (ta !== undefined) stage.router.push(ta - ack);
    if (ta !== undefined && ra !== undefined) stage.consent.push(ra - ta);
    if (ra !== undefined) stage.learn.push(first.at - ra);
    if (ta !== undefined && t !== undefined) stage.readLag.push(t - ta);
    lowerBound.push(Math.max(lastAccepted?.at ?? ack, ack) - ack);
    bracket.push(first.at - Math.max(lastAccepted?.at ?? ack, ack));
    // A leak: a marketing probe asked after the first refusal and still sent to Graph.
    leaks += s.probes.filter(
      (p) => p.at > first.at && outcomes.get(p.requestId)?.type === "SendAccepted",
    ).length;
  }
  const outcomeKinds = new Map<string, number>();
  for (const o of outcomes.values()) {
    const k = `${o.type}${o.reason === undefined ? "" : ` ${o.reason}`}`;
    outcomeKinds.set(k, (outcomeKinds.get(k) ?? 0) + 1);
  }
  console.log(`\n${header}\n`);
  console.log(
    `${String(STOPS)} STOPs over ${stopSeconds.toFixed(1)} s; sends asked meanwhile: ${String(asked.background)} background + ${String(asked.probes)} marketing probes = ${(asked.total / stopSeconds).toFixed(0)}/s (budget ${String(SEND_RATE)}/s in all); outcomes read: ${[
      ...outcomeKinds,
    ]
      .map(([k, n]) => `${k} ${String(n)}`)
      .join(", ")}\n`,
  );
  console.log(row("measure", "n", "p50 ms", "p99 ms", "max ms"));
  console.log(row("---", "---:", "---:", "---:", "---:"));
  const line = (name: string, values: number[]) => {
    const s = stats(values);
    console.log(row(name, s.n, s.p50, s.p99, s.max));
  };
  line(`STOP webhook 200 -> ${TYPED} read back (baseline)`, typed);
  line("STOP webhook 200 -> ConsentRevoked read back (consent decision)", decided);
  line(
    "STOP webhook 200 -> sender's gate applied it (enforced: every send not yet handed to Graph refused)",
    known.sender,
  );
  line("STOP webhook 200 -> router's send decider applied it (group committed past)", known.router);
  line("STOP webhook 200 -> both applied", known.both);
  line("STOP webhook 200 -> first probe refused (router or sender gate)", enforced);
  line("STOP webhook 200 -> last probe accepted before it (lower bound)", lowerBound);
  line("  enforcement bracket (refused - last accepted)", bracket);
  line("  probe asked late by (budget / scheduler)", late);
  line(`stage 1, ingress + router: webhook 200 -> ${TYPED} appended`, stage.router);
  line(`stage 2, consent: ${TYPED} appended -> ConsentRevoked appended`, stage.consent);
  line("stage 3, router / sender: ConsentRevoked appended -> first refusal", stage.learn);
  line(`  (the bench's reader: ${TYPED} appended -> read back)`, stage.readLag);
  console.log(
    `\nprobe interval ${String(PROBE_MS)} ms; STOP webhooks not acknowledged: ${String(unacknowledged)}; no probe refused within ${String(PROBE_LIMIT_MS / 1_000)} s: ${String(unenforced)}; marketing probes asked after the first refusal and sent all the same (leaks): ${String(leaks)}; first refusals by the sender's gate (dispatched by the router before it knew): ${String(bySender)}, by the router relying on another consent entry than the STOP's: ${String(otherConsent)}; probes refused no_consent (opt-in not yet known to the router): ${String(noConsent)}; probe slots deferred for lack of budget: ${String(counts.deferred)}`,
  );
  console.log(
    `probes let through by the router after its group had applied the STOP: ${String(decidedAfterKnown)}; SendAccepted stamped after the sender's gate had (a call begun just before counts too): ${String(graphAfterKnown)}; probes handed to Graph (the simulator's acceptance) after the sender's gate had committed past the STOP (must be 0): ${String(handedAfterKnown)}, in the 100 ms before (the measure's resolution): ${String(handedWithinResolution)}`,
  );
  const perSend = (name: string) =>
    (((cpuUsed.get(name) ?? NaN) * 1_000) / Math.max(1, asked.total)).toFixed(2);
  console.log(
    `CPU per send asked: router ${perSend("router")} ms, sender ${perSend("sender")} ms; consent ${(((cpuUsed.get("consent") ?? NaN) * 1_000) / STOPS).toFixed(2)} ms per STOP; peak RSS router ${procStatus(router.child.pid, "VmHWM").toFixed(0)} MB, sender ${procStatus(sender.child.pid, "VmHWM").toFixed(0)} MB`,
  );
  console.log(
    "\nWhere each service's time went while the STOPs ran (its stage histograms: mean ms per observation, observations; the event loop's delay at the end, p50 / p99 ms):\n",
  );
  console.log(row("service", "stage histogram", "stage", "mean ms", "n"));
  console.log(row("---", "---", "---", "---:", "---:"));
  for (const [key, after] of stagesAfter) {
    const before = stagesBefore.get(key) ?? { sum: 0, count: 0 };
    const n = after.count - before.count;
    if (n <= 0) continue;
    const [service = "", histogram = "", stageName = ""] = key.split("|");
    console.log(
      row(service, histogram, stageName, (((after.sum - before.sum) / n) * 1_000).toFixed(1), n),
    );
  }
  for (const [service, lag] of eventLoopLags(stagesAfter))
    console.log(`event loop delay, ${service}: p50 ${lag.p50} ms, p99 ${lag.p99} ms`);
  // Memory at the end of the STOP phase (MB): what the RSS is made of.
  for (const service of services) {
    const mb = (name: string) =>
      ((stagesAfter.get(`${service.name}|memory|${name}`)?.sum ?? NaN) / 1_048_576).toFixed(0);
    console.log(
      `memory, ${service.name}: RSS ${mb("process_resident_memory_bytes")} MB, V8 heap ${mb("nodejs_heap_size_total_bytes")} (used ${mb("nodejs_heap_size_used_bytes")}), external ${mb("nodejs_external_memory_bytes")}`,
    );
  }
  console.log("Record the figures in docs/benchmarks.md, section Consent.");
  await client.close();
}

/**
 * Meta's user_preferences webhook for one contact (marketing_messages: stop), signed with the
 * app secret and posted to ingress; its 200 is the opt-out's acknowledgement.
 */
async function postPreference(contact: string): Promise<void> {
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: WABA,
        time: Math.floor(Date.now() / 1_000),
        changes: [
          {
            field: "user_preferences",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: NUMBER },
              contacts: [{ wa_id: contact, profile: { name: "Bench" } }],
              user_preferences: [
                {
                  wa_id: contact,
                  detail: "User requested to stop marketing messages",
                  category: "marketing_messages",
                  value: "stop",
                  timestamp: Math.floor(Date.now() / 1_000),
                },
              ],
            },
          },
        ],
      },
    ],
  });
  const signature = `sha256=${createHmac("sha256", APP_SECRET).update(body).digest("hex")}`;
  const res = await fetch(`http://127.0.0.1:${String(webhookPort)}/webhooks/whatsapp`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-hub-signature-256": signature },
  }).catch(() => undefined);
  await res?.arrayBuffer();
  if (res?.status === 200) ackedAt.set(preferenceKey(contact), Date.now());
}

/**
 * Every `*_stage_seconds` histogram's sum and count per service and stage (keyed
 * "service|histogram|stage"), and the event loop's delay percentiles (keyed "service|eventloop|p50"),
 * read from each service's /metrics.
 */
async function stageSums(
  of: readonly ServiceProcess[],
): Promise<Map<string, { sum: number; count: number }>> {
  const out = new Map<string, { sum: number; count: number }>();
  for (const service of of) {
    const text = await fetch(`${service.url}/metrics`, {
      headers: { authorization: `Bearer ${OPS_TOKEN}` },
    })
      .then((r) => r.text())
      .catch(() => "");
    for (const m of text.matchAll(
      /^(\w*_stage_seconds)_(sum|count)\{[^}]*stage="(\w+)"[^}]*\} (\S+)$/gmu,
    )) {
      const [, histogram = "", kind, stageName = "", value] = m;
      const key = `${service.name}|${histogram}|${stageName}`;
      const v = out.get(key) ?? { sum: 0, count: 0 };
      if (kind === "sum") v.sum += Number(value);
      else v.count += Number(value);
      out.set(key, v);
    }
    for (const m of text.matchAll(
      /^\w*(process_resident_memory_bytes|nodejs_heap_size_total_bytes|nodejs_heap_size_used_bytes|nodejs_external_memory_bytes)(?:\{[^}]*\})? (\S+)$/gmu,
    )) {
      const [, name = "", value] = m;
      out.set(`${service.name}|memory|${name}`, { sum: Number(value), count: 0 });
    }
    for (const m of text.matchAll(
      /^\w*nodejs_eventloop_lag_(p50|p99)_seconds(?:\{[^}]*\})? (\S+)$/gmu,
    )) {
      const [, p = "", value] = m;
      out.set(`${service.name}|eventloop|${p}`, { sum: Number(value), count: 0 });
    }
  }
  return out;
}

function eventLoopLags(
  sums: ReadonlyMap<string, { sum: number; count: number }>,
): Map<string, { p50: string; p99: string }> {
  const out = new Map<string, { p50: string; p99: string }>();
  for (const [key, { sum }] of sums) {
    const [service = "", kind, p] = key.split("|");
    if (kind !== "eventloop") continue;
    const lag = out.get(service) ?? { p50: "?", p99: "?" };
    if (p === "p50") lag.p50 = (sum * 1_000).toFixed(1);
    if (p === "p99") lag.p99 = (sum * 1_000).toFixed(1);
    out.set(service, lag);
  }
  return out;
}
