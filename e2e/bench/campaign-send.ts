// "Sending bounded by the numbers' caps, not by Parley" (issue 27, docs/benchmarks.md, "Campaign
// sending against the numbers' caps"): ingress, router, sender and campaigns as processes against
// Kafka, the registry, MongoDB and the Cloud API simulator as Meta. One utility campaign of
// BENCH_RECIPIENTS rows over two numbers with known caps (BENCH_CAPS, msg/s, the simulator's
// throughput and the number directory's mps alike) is created, uploaded and started through the
// campaigns API. Measured from the start command: the plan complete, the first and the last
// message the simulator accepted; the send time (first to last acceptance) against the floor
// N / sum(caps), each number's count, its rate over its own sending span and its busiest sliding
// second (never over its cap, the warm-up's messages included). BENCH_WARMUP (0) runs a campaign
// of that many other recipients first, so the measured one meets services that have been
// sending. Run with bench/campaign-send.sh.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@parley/e2e";
import { waitFor } from "@parley/testkit";
import { startPathStack } from "../dist/path-stack.js";

const N = Number(process.env["BENCH_RECIPIENTS"] ?? "3000");
const CAPS = (process.env["BENCH_CAPS"] ?? "60,30").split(",").map(Number);
const TICK_MS = process.env["BENCH_TICK_MS"] ?? "1000";
// A campaign of this many other recipients first, on the same numbers, so the measured one runs
// on services that have been sending (0: the measured campaign starts on services just started).
const WARMUP = Number(process.env["BENCH_WARMUP"] ?? "0");
if (CAPS.length !== 2 || CAPS.some((c) => !(c > 0)) || !(N > 0))
  throw new Error("BENCH_CAPS must be two positive caps (60,30) and BENCH_RECIPIENTS positive");
const WABA = "102290129340455";
const NUMBERS = ["106540352242455", "106540352242456"];
const GRAPH_TOKEN = "bench-campaign-send-graph-token";
const API_KEY = "bench-campaign-send-api-key-0123456789";
const TEMPLATE = "flash_sale";
const capOf = new Map(NUMBERS.map((id, i) => [id, CAPS[i] ?? 1]));
const f1 = (x: number) => x.toFixed(1);
const progress = (s: string): void => {
  console.error(`[bench] ${s}`);
};

const audienceDir = await mkdtemp(join(tmpdir(), "bench-campaign-send-"));
const apiPort = await freePort();
const parley = await startPathStack({
  name: "bench-campaign-send",
  opsToken: "bench-campaign-send-ops-token",
  appSecret: "bench-campaign-send-app-secret",
  graphToken: GRAPH_TOKEN,
  numbers: JSON.stringify({
    numbers: NUMBERS.map((id) => ({
      phoneNumberId: id,
      wabaId: WABA,
      mps: capOf.get(id),
      accessToken: GRAPH_TOKEN,
    })),
  }),
  simulator: {
    seed: "bench-campaign-send",
    businesses: [
      {
        wabaId: WABA,
        phoneNumbers: NUMBERS.map((id, i) => ({
          id,
          displayPhoneNumber: `1555010045${String(i)}`,
          throughputMps: capOf.get(id) ?? 1,
        })),
      },
    ],
    statuses: { sentDelayMs: [20, 60], deliveredDelayMs: [50, 150], readProbability: 0 },
    retainMessages: N + 1_000,
  },
  read: [],
});
let failed = false;
try {
  parley.sim.addTemplate({
    wabaId: WABA,
    name: TEMPLATE,
    language: "es",
    category: "UTILITY",
    status: "APPROVED",
    parameterFormat: "NAMED",
    body: "Hola {{first_name}}, hay novedades.",
  });
  await parley.start("ingress");
  await parley.start("router");
  await parley.start("sender");
  await parley.start("campaigns", {
    CAMPAIGNS_API_PORT: String(apiPort),
    CAMPAIGNS_API_KEYS: JSON.stringify([
      {
        id: "bench",
        keySha256: createHash("sha256").update(API_KEY).digest("hex"),
        scopes: ["read", "write", "control"],
      },
    ]),
    CAMPAIGNS_AUDIENCE_DIR: audienceDir,
    CAMPAIGNS_MESSAGING_LIMIT: "unlimited",
    CAMPAIGNS_TICK_MS: TICK_MS,
  });
  const api = async (method: string, path: string, body?: string, type = "application/json") => {
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
    return JSON.parse(text) as {
      campaign: { status: string };
      plan?: { complete: boolean; counters: { planned: number } };
    };
  };
  const sumCaps = CAPS.reduce((a, b) => a + b, 0);
  /** Creates and uploads campaign `id` of `n` recipients whose numbers start +34<prefix>. */
  const prepare = async (id: string, prefix: string, n: number) => {
    await api(
      "POST",
      "/v1/campaigns",
      JSON.stringify({
        id,
        owner: "marketing",
        template: { name: TEMPLATE, language: { code: "es" } },
        category: "utility",
        bodyParameters: ["first_name"],
        numbers: NUMBERS,
        schedule: { startAt: new Date(Date.now() - 60_000).toISOString() },
      }),
    );
    const csv = ["phone,first_name"];
    for (let i = 0; i < n; i++) csv.push(`+34${prefix}${String(i).padStart(6, "0")},C${String(i)}`);
    await api("PUT", `/v1/campaigns/${id}/audience?format=csv`, csv.join("\n") + "\n", "text/csv");
  };
  const ofMeasured = () => parley.sim.messages().filter((m) => m.waId.startsWith("34622"));
  if (WARMUP > 0) {
    await prepare("warm", "623", WARMUP);
    const w0 = Date.now();
    await api("POST", "/v1/campaigns/warm/start");
    await waitFor(() => parley.sim.messages().length >= WARMUP, {
      timeoutMs: Math.max(120_000, (WARMUP / sumCaps) * 4_000),
      intervalMs: 250,
      description: `${String(WARMUP)} warm-up messages accepted by the simulator`,
    });
    progress(`warm-up campaign: ${String(WARMUP)} sent in ${f1((Date.now() - w0) / 1000)} s`);
  }
  await prepare("caps", "622", N);
  const load0 = loadavg()[0] ?? 0;
  const t0 = Date.now();
  await api("POST", "/v1/campaigns/caps/start");
  let planDone = Number.NaN;
  const floorS = N / sumCaps;
  const timer = setInterval(() => {
    const got = ofMeasured();
    progress(
      `${String(got.length)} accepted after ${((Date.now() - t0) / 1000).toFixed(0)} s (${NUMBERS.map((id) => String(got.filter((m) => m.phoneNumberId === id).length)).join(" + ")})`,
    );
  }, 10_000);
  timer.unref();
  await waitFor(
    async () => {
      if (Number.isNaN(planDone) && (await api("GET", "/v1/campaigns/caps")).plan?.complete)
        planDone = Date.now();
      return ofMeasured().length >= N;
    },
    {
      timeoutMs: Math.max(120_000, floorS * 4_000),
      intervalMs: 250,
      description: `${String(N)} messages accepted by the simulator`,
    },
  );
  clearInterval(timer);
  const messages = ofMeasured();
  // The caps hold over everything each number sent, the warm-up's messages included.
  const everything = parley.sim.messages();
  const first = Math.min(...messages.map((m) => m.acceptedAt));
  const last = Math.max(...messages.map((m) => m.acceptedAt));
  const sendS = (last - first) / 1000;
  const rows = NUMBERS.map((id) => {
    const acceptedOn = (list: readonly { phoneNumberId: string; acceptedAt: number }[]) =>
      list
        .filter((m) => m.phoneNumberId === id)
        .map((m) => m.acceptedAt)
        .sort((a, b) => a - b);
    const at = acceptedOn(messages);
    const all = acceptedOn(everything);
    let busiest = 0;
    for (let i = 0, j = 0; i < all.length; i++) {
      while ((all[i] ?? 0) - (all[j] ?? 0) >= 1_000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    const span = ((at.at(-1) ?? 0) - (at[0] ?? 0)) / 1000;
    return { id, cap: capOf.get(id) ?? 0, n: at.length, span, busiest };
  });
  const distinct = new Set(messages.map((m) => m.waId)).size;
  const f = (x: number) => x.toFixed(1);
  console.log(
    [
      `Campaign sending against the numbers' caps: ${String(N)} recipients${WARMUP > 0 ? ` after a warm-up campaign of ${String(WARMUP)}` : ", services just started"}, caps ${CAPS.join(" + ")} msg/s, load average ${load0.toFixed(1)} at the start (${new Date(t0).toISOString()})`,
      "",
      "| measure | value |",
      "| --- | --- |",
      `| plan complete after the start command | ${f((planDone - t0) / 1000)} s |`,
      `| first acceptance after the start command | ${f((first - t0) / 1000)} s |`,
      `| send time (first to last acceptance) | ${f(sendS)} s |`,
      `| floor N / sum(caps) | ${f(floorS)} s |`,
      `| send time / floor | ${(sendS / floorS).toFixed(3)} |`,
      `| aggregate rate / sum(caps) | ${((N - 1) / sendS / sumCaps).toFixed(3)} |`,
      `| distinct recipients / messages | ${String(distinct)} / ${String(messages.length)} |`,
      "",
      "| number | cap | messages | its sending span | its rate / cap | busiest sliding second |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.id} | ${String(r.cap)} | ${String(r.n)} | ${f(r.span)} s | ${((r.n - 1) / r.span / r.cap).toFixed(3)} | ${String(r.busiest)} |`,
      ),
    ].join("\n"),
  );
  if (distinct !== N || messages.length !== N) {
    failed = true;
    console.error(`[bench] FAILED: ${String(messages.length)} messages to ${String(distinct)}`);
  }
  if (rows.some((r) => r.busiest > r.cap)) {
    failed = true;
    console.error("[bench] FAILED: a number over its cap in a sliding second");
  }
} finally {
  progress("stopping");
  await parley.stop();
  await rm(audienceDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
