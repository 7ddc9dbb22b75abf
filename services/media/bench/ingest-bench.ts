// Media ingest benchmark (issue 24), in one run against one simulator served over HTTP:
//  1. baseline: a bare download-and-write of the same files (Graph look-up, GET the URL, pipe
//     to a file), no checks, no encryption;
//  2. media's ingest as main.ts composes it (look-up, streamed download through the size,
//     sha256 and content checks and the sealer into the filesystem store);
//  3. one large file (BENCH_LARGE_MB, default 100) through each, sampling RSS every 20 ms.
// Files/s and MB/s at BENCH_CONCURRENCY downloads at once. Everything talks to 127.0.0.1 only.
//   node services/media/dist-bench/ingest-bench.js
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createSimulator, serveSimulator } from "@parley/cloud-api-sim";
import { parseNumberDirectory } from "@parley/numbers";
import { createGraphMediaSource } from "../dist/adapters/graph/media-source.js";
import { eventIdOf } from "../dist/adapters/kafka/event-id.js";
import { createFsObjectStore } from "../dist/adapters/store/fs-object-store.js";
import { createKeyRing, parseKeyEncryptionKeys } from "../dist/crypto/keyring.js";
import type { Announcement } from "../dist/domain/media-object.js";
import { createIngest } from "../dist/ingest/ingest.js";

const FILES = Number(process.env["BENCH_FILES"] ?? "60");
const FILE_MB = Number(process.env["BENCH_FILE_MB"] ?? "2");
const LARGE_MB = Number(process.env["BENCH_LARGE_MB"] ?? "100");
const CONCURRENCY = Number(process.env["BENCH_CONCURRENCY"] ?? "4");
const TOKEN = "bench-graph-token";
const NUMBER = "106540352242999";
const USER = "16505550999";

interface File {
  readonly id: string;
  readonly announcement: Announcement;
  readonly bytes: number;
}

// The simulator runs in a child process (this file with --simulator), so the RSS measured here
// is media's alone: the child holds every file in memory.
if (process.argv.includes("--simulator")) {
  const sim = createSimulator({
    seed: "media-bench",
    accessTokens: [{ token: TOKEN }],
    businesses: [
      {
        wabaId: "1022901293499",
        phoneNumbers: [{ id: NUMBER, displayPhoneNumber: "15550100999" }],
      },
    ],
  });
  const server = await serveSimulator(sim, { port: 0, host: "127.0.0.1" });
  const send = (type: "video" | "document", mimeType: string, data: Buffer): File => {
    const { message } = sim.userSends(USER, { type, mimeType, data }, { phoneNumberId: NUMBER });
    const media = (message as unknown as Record<string, { id: string; sha256: string }>)[type];
    if (media === undefined) throw new Error("no media");
    return {
      id: media.id,
      bytes: data.length,
      announcement: {
        contactId: USER,
        wamid: "wamid.bench",
        kind: type,
        businessNumber: NUMBER,
        mimeType,
        sha256: media.sha256,
        correlationId: "bench",
        causationId: eventIdOf(media.id),
      },
    };
  };
  const pdf = (bytes: number) => Buffer.concat([Buffer.from("%PDF-1.7\n"), randomBytes(bytes - 9)]);
  const mp4 = (bytes: number) =>
    Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypmp42"), randomBytes(bytes - 12)]);
  const small = Array.from({ length: FILES }, (_, i) =>
    i % 2 === 0
      ? send("document", "application/pdf", pdf(FILE_MB * 1024 * 1024))
      : send("video", "video/mp4", mp4(FILE_MB * 1024 * 1024)),
  );
  const large = send("video", "video/mp4", mp4(LARGE_MB * 1024 * 1024));
  process.stdout.write(`${JSON.stringify({ url: server.url, small, large })}\n`);
  process.stdin.resume();
  process.stdin.once("end", () => {
    void server
      .close()
      .then(() => sim.stop())
      .then(() => process.exit(0));
  });
} else {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--simulator"], {
    stdio: ["pipe", "pipe", "inherit"],
    env: process.env,
  });
  const first = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (c: Buffer) => {
      text += c.toString();
      const at = text.indexOf("\n");
      if (at >= 0) resolve(text.slice(0, at));
    });
    child.once("exit", () => {
      reject(new Error("the simulator process exited"));
    });
  });
  const { url, small, large } = JSON.parse(first) as { url: string; small: File[]; large: File };
  const server = { url };
  const source = createGraphMediaSource({
    directory: parseNumberDirectory({
      numbers: [{ phoneNumberId: NUMBER, wabaId: "1022901293499", accessToken: TOKEN }],
    }),
    baseUrl: server.url,
    graphVersion: "v23.0",
    mediaHosts: [],
    timeoutMs: 60_000,
  });
  const dir = mkdtempSync(join(tmpdir(), "parley-media-bench-"));
  const store = createFsObjectStore({ root: join(dir, "store") });
  const ingest = createIngest({
    source,
    store,
    keys: createKeyRing(parseKeyEncryptionKeys(`bench:${randomBytes(32).toString("base64")}`)),
    maxBytes: (LARGE_MB + 1) * 1024 * 1024,
  });

  /** The bare path: look the URL up, GET it with the token, write it to a file. */
  async function bare(file: File): Promise<void> {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const info = (await (
      await fetch(`${server.url}/v23.0/${file.id}`, { headers: auth })
    ).json()) as {
      url: string;
    };
    const res = await fetch(info.url, { headers: auth });
    if (res.body === null) throw new Error("no body");
    await pipeline(Readable.fromWeb(res.body), createWriteStream(join(dir, `bare-${file.id}`)));
  }
  async function viaMedia(file: File): Promise<void> {
    const outcome = await ingest(file.id, file.announcement);
    if (outcome.kind !== "stored") throw new Error(`${outcome.reason}: ${outcome.detail}`);
  }

  async function run(files: readonly File[], each: (f: File) => Promise<void>) {
    let next = 0;
    let peak = process.memoryUsage().rss;
    const before = peak;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, files.length) }, async () => {
        for (let f = files[next++]; f !== undefined; f = files[next++]) await each(f);
      }),
    );
    const seconds = (performance.now() - started) / 1_000;
    clearInterval(sampler);
    const mb = files.reduce((s, f) => s + f.bytes, 0) / 1024 / 1024;
    return {
      seconds,
      filesPerSecond: files.length / seconds,
      mbPerSecond: mb / seconds,
      rssBefore: before,
      rssPeak: peak,
    };
  }

  const mbOf = (b: number) => (b / 1024 / 1024).toFixed(0);
  try {
    // Warm both paths once.
    await bare(small[0] as File);
    await viaMedia(small[1] as File);
    const baseline = await run(small, bare);
    const media = await run(small, viaMedia);
    global.gc?.();
    const largeBare = await run([large], bare);
    global.gc?.();
    const largeMedia = await run([large], viaMedia);
    const rows = [
      ["case", "files", "seconds", "files/s", "MB/s", "RSS before MB", "RSS peak MB"],
      [
        "bare download+write",
        String(FILES),
        baseline.seconds.toFixed(2),
        baseline.filesPerSecond.toFixed(1),
        baseline.mbPerSecond.toFixed(1),
        mbOf(baseline.rssBefore),
        mbOf(baseline.rssPeak),
      ],
      [
        "media ingest",
        String(FILES),
        media.seconds.toFixed(2),
        media.filesPerSecond.toFixed(1),
        media.mbPerSecond.toFixed(1),
        mbOf(media.rssBefore),
        mbOf(media.rssPeak),
      ],
      [
        `bare, one ${String(LARGE_MB)} MB video`,
        "1",
        largeBare.seconds.toFixed(2),
        "-",
        largeBare.mbPerSecond.toFixed(1),
        mbOf(largeBare.rssBefore),
        mbOf(largeBare.rssPeak),
      ],
      [
        `media, one ${String(LARGE_MB)} MB video`,
        "1",
        largeMedia.seconds.toFixed(2),
        "-",
        largeMedia.mbPerSecond.toFixed(1),
        mbOf(largeMedia.rssBefore),
        mbOf(largeMedia.rssPeak),
      ],
    ];
    const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
    for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join("  "));
    console.log(
      `\n${String(FILES)} files of ${String(FILE_MB)} MB, ${String(CONCURRENCY)} at once; media/bare = ${(media.mbPerSecond / baseline.mbPerSecond).toFixed(2)}. ` +
        `RSS is this process's (media's path and the bare path); the simulator runs in a child process. ` +
        `Record the table in docs/benchmarks.md ("Media ingest") with the machine and date.`,
    );
  } finally {
    await source.close();
    child.stdin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
