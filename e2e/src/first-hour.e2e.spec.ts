import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./processes.js";

// The first hour of a new user (issue 19): `make dev` as the README runs it (infra/scripts/dev.sh,
// the same script), then the README's "Your first message" commands exactly as written, with only
// the ports and the state directory moved so this stack runs beside a developer's own `make dev`
// and the test suite's servers. Every port moves by PARLEY_DEV_PORT_OFFSET.
const offset = Number(process.env["E2E_FIRST_HOUR_PORT_OFFSET"] ?? "300");
const state = mkdtempSync(join(tmpdir(), "parley-first-hour-"));
let dev: ChildProcess | undefined;
let exited: Promise<number | null> | undefined;
const logFile = join(state, "make-dev.out");

/** The README's "Your first message" block, pointed at this test's stack. */
function firstMessageCommands(): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const begin = readme.indexOf("<!-- first-message:begin -->");
  const end = readme.indexOf("<!-- first-message:end -->");
  if (begin < 0 || end < begin) throw new Error("README.md lost its first-message markers");
  const block = readme.slice(begin, end);
  const code = block.slice(block.indexOf("```sh") + 5, block.lastIndexOf("```"));
  return code
    .replaceAll("127.0.0.1:8090", `127.0.0.1:${String(8090 + offset)}`)
    .replaceAll("127.0.0.1:4010", `127.0.0.1:${String(4010 + offset)}`)
    .replaceAll(".parley/dev/", `${state}/`);
}

beforeAll(async () => {
  const out = createWriteStream(logFile);
  dev = spawn("bash", [join(repoRoot, "infra/scripts/dev.sh")], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PARLEY_DEV_STATE: state,
      PARLEY_DEV_PORT_OFFSET: String(offset),
      PARLEY_INFRA: "native",
      INFRA_START_TIMEOUT: "300",
      DEV_READY_TIMEOUT: "240",
    },
    // Its own process group: the test signals dev.sh the way Ctrl-C would.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  dev.stdout?.pipe(out);
  dev.stderr?.pipe(out);
  const child = dev;
  exited = new Promise((resolve) => {
    child.once("exit", (code) => {
      resolve(code);
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor(
    () => {
      if (gone)
        throw new Error(`make dev exited early:\n${readFileSync(logFile, "utf8").slice(-3000)}`);
      return readFileSync(logFile, "utf8").includes("services are ready (");
    },
    { timeoutMs: 420_000, intervalMs: 1_000, description: "make dev ready" },
  );
}, 480_000);

afterAll(async () => {
  if (dev?.pid !== undefined && exited !== undefined) {
    try {
      process.kill(dev.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await exited;
  }
  rmSync(state, { recursive: true, force: true });
}, 120_000);

describe("the first hour: make dev, then the README's first message", () => {
  it("prints the send API, the simulator and a ready curl line, and writes the key it prints", () => {
    const banner = readFileSync(logFile, "utf8");
    expect(banner).toContain(`send API    http://127.0.0.1:${String(8090 + offset)}/v1/messages`);
    expect(banner).toContain(`cloud-api   http://127.0.0.1:${String(4010 + offset)}`);
    expect(banner).toMatch(/Send your first message/);
    const key = readFileSync(join(state, "send-api-key"), "utf8");
    expect(key.length).toBeGreaterThan(20);
    // The key itself is never printed or logged; ingress holds only its hash.
    expect(banner).not.toContain(key);
    expect(readFileSync(join(state, "logs", "ingress.log"), "utf8")).not.toContain(key);
  });

  it("sends a message, shows its outcome and statuses, and the user's reply, with the documented commands", () => {
    // A new user's shell: none of the test suite's own server settings, only the dev stack's.
    const {
      KAFKA_BROKERS: _brokers,
      SCHEMA_REGISTRY_URL: _registry,
      MONGO_URL: _mongo,
      PARLEY_TOPIC_PREFIX: _prefix,
      ...shell
    } = process.env;
    const run = spawnSync("bash", ["-c", `set -euo pipefail\n${firstMessageCommands()}`], {
      cwd: repoRoot,
      env: { ...shell, PARLEY_DEV_STATE: state },
      encoding: "utf8",
      timeout: 180_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).toMatch(/"requestId":"[0-9a-f-]{36}"/);
    expect(output).toMatch(/SendAccepted {2}request=/);
    expect(output).toMatch(/status delivered/);
    expect(output, output).toMatch(/InboundMessageReceived .*text="Thanks, when will it arrive\?"/);
  }, 240_000);

  it("runs the example twice: the repeated key sends nothing new and answers with the first request's word", () => {
    const {
      KAFKA_BROKERS: _b,
      SCHEMA_REGISTRY_URL: _r,
      MONGO_URL: _m,
      PARLEY_TOPIC_PREFIX: _p,
      ...shell
    } = process.env;
    const run = () =>
      spawnSync(join(repoRoot, "bin/parley-example"), [], {
        cwd: repoRoot,
        env: { ...shell, PARLEY_DEV_STATE: state },
        encoding: "utf8",
        timeout: 120_000,
      });
    const first = run();
    expect(first.status, `${first.stdout}\n${first.stderr}`).toBe(0);
    const firstWamid = /final accepted SendAccepted (\S+)/.exec(first.stdout)?.[1];
    expect(firstWamid, first.stdout).toBeDefined();
    const second = run();
    expect(second.status, `${second.stdout}\n${second.stderr}`).toBe(0);
    expect(second.stdout).toContain(`final accepted SendAccepted ${firstWamid ?? ""}`);
    const requested = (out: string) => /requested (\S+)/.exec(out)?.[1];
    expect(requested(second.stdout)).not.toBe(requested(first.stdout));
  }, 300_000);

  it("starts with no error-level line in any service's log", () => {
    for (const service of ["ingress", "router", "sender", "media", "consent", "projection"]) {
      const log = readFileSync(join(state, "logs", `${service}.log`), "utf8");
      // What each error says (its message and error, not the first characters of its JSON).
      const errors = log
        .split("\n")
        .filter((line) => line.includes('"level":"error"'))
        .map((line) => {
          const entry = JSON.parse(line) as { time?: string; msg?: string; error?: unknown };
          return `${entry.time ?? ""} ${entry.msg ?? ""} ${JSON.stringify(entry.error ?? "")}`;
        });
      expect(errors, `${service}: ${errors.join("\n")}`).toEqual([]);
    }
  });

  it("stops everything it started on SIGTERM, like Ctrl-C", async () => {
    if (dev?.pid === undefined || exited === undefined) throw new Error("make dev is not running");
    process.kill(dev.pid, "SIGTERM");
    expect(await exited).toBe(0);
    // The servers name the state directory on their command lines; the services hold ports.
    const left = spawnSync("pgrep", ["-f", state], { encoding: "utf8" });
    expect(left.stdout.trim()).toBe("");
    for (const port of [8080, 8082, 8083, 8084, 8085, 8086, 8088, 8090, 4010]) {
      const open = spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${String(port + offset)}`]);
      expect(open.status, `port ${String(port + offset)} still answers`).not.toBe(0);
    }
  }, 120_000);
});
