import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface ServiceProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

/**
 * Starts a built service (services/<name>/dist/main.js) as its own process, logging to
 * `<logDir>/<instance>.log` (instance: e.g. "sender-2" when several run); `main` runs another
 * build of it (a benchmark's before case: a worktree of main).
 */
export function startService(
  name: string,
  port: number,
  env: Record<string, string>,
  logDir: string,
  instance: string = name,
  main: string = join(repoRoot, "services", name, "dist", "main.js"),
): ServiceProcess {
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, `${instance}.log`));
  // The V8 heap sizing the images and `make dev` give a service (docs/architecture.md).
  const child = spawn(
    process.execPath,
    ["--initial-old-space-size=64", "--max-semi-space-size=8", main],
    {
      env: { ...process.env, ...env, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolveExit) => {
    child.once("exit", (code) => {
      resolveExit(code);
    });
  });
  return { name: instance, url: `http://127.0.0.1:${port}`, child, exited };
}

/** Where a test stack's servers answer (a `@parley/testkit` Stack has these). */
export interface StackServers {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  readonly mongoUrl: string;
}

/**
 * The settings every service needs to run against a test stack: its servers, the database and
 * topic prefix of the test's namespace, and the ops token; `extra` adds to or overrides them.
 */
export function serviceEnv(
  stack: StackServers,
  { database, topicPrefix, opsToken }: { database: string; topicPrefix: string; opsToken: string },
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.kafkaBrokers.join(","),
    SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
    MONGO_URL: stack.mongoUrl,
    MONGO_DB: database,
    PARLEY_TOPIC_PREFIX: topicPrefix,
    OPS_TOKEN: opsToken,
    // The specs written before the consent service (ADR 0012) run the router's own consent
    // decisions; consent.e2e.spec.ts starts the consent service and sets "consent".
    ROUTER_CONSENT_DECIDER: "router",
    ...extra,
  };
}

/**
 * Stops a service with `signal`, then SIGKILL if it is still running after `graceMs`, so that a
 * service stuck in its shutdown cannot hang a hook. Resolves with its exit code (null if killed).
 */
export async function stopService(
  service: ServiceProcess,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 20_000,
): Promise<number | null> {
  const { child } = service;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  try {
    return await service.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A TCP port free on 127.0.0.1 right now (one definition, in the testkit). */
export { freePort } from "@parley/testkit";

/**
 * A spec's own Kafka broker (so it can stop it without disturbing other suites): its infra.sh
 * profile and ports, each port read from the spec's own variable (`<prefix>KAFKA_PORT`,
 * `<prefix>KAFKA_CONTROLLER_PORT`) or a default. `variables` maps infra.sh's names to the
 * spec's, so a failure names the variable a user of that spec can set.
 */
export interface OwnBroker {
  readonly env: {
    readonly PARLEY_PROFILE: string;
    readonly KAFKA_PORT: string;
    readonly KAFKA_CONTROLLER_PORT: string;
  };
  readonly brokers: readonly string[];
  readonly variables: Readonly<Record<string, string>>;
}

export function ownBroker(profile: string, prefix: string, port: number): OwnBroker {
  const variables = {
    KAFKA_PORT: `${prefix}KAFKA_PORT`,
    KAFKA_CONTROLLER_PORT: `${prefix}KAFKA_CONTROLLER_PORT`,
  };
  const kafkaPort = process.env[variables.KAFKA_PORT] ?? String(port);
  const env = {
    PARLEY_PROFILE: profile,
    KAFKA_PORT: kafkaPort,
    KAFKA_CONTROLLER_PORT: process.env[variables.KAFKA_CONTROLLER_PORT] ?? String(port + 1),
  };
  return { env, brokers: [`127.0.0.1:${kafkaPort}`], variables };
}

/**
 * infra.sh's error lines from its stderr, with any suggested setting (`e.g. KAFKA_PORT=39092`)
 * renamed to the caller's own variable for it.
 */
export function infraErrors(
  stderr: string,
  variables: Readonly<Record<string, string>> = {},
): string[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("[infra] error:"))
    .map((l) =>
      l.replace(/\b([A-Z_]+)=(?=\d)/g, (whole, name: string) => {
        const own = variables[name];
        return own === undefined ? whole : `${own}=`;
      }),
    );
}

/**
 * Runs infra/native/infra.sh with the given environment (another profile, other ports). Its
 * output passes through; a failure rejects with infra.sh's own error lines, e.g. a port in use
 * (with `variables`, a suggested setting names the caller's variable, see `ownBroker`).
 * A start may take 300 s (infra.sh's own default is 90 s): on a loaded two-core box a fresh
 * broker's start is slow, and the deadline is there to catch a hang, not to time it.
 */
export function infra(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  variables: Readonly<Record<string, string>> = {},
): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn("bash", [join(repoRoot, "infra/native/infra.sh"), ...args], {
      env: { INFRA_START_TIMEOUT: "300", ...process.env, ...env },
      stdio: ["ignore", "inherit", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk).slice(-8_192);
    });
    child.once("close", (code) => {
      if (code === 0) {
        resolveRun();
        return;
      }
      const errors = infraErrors(stderr, variables);
      const why = errors.length > 0 ? `: ${errors.join("; ")}` : "";
      reject(new Error(`infra.sh ${args.join(" ")} exited with ${String(code)}${why}`));
    });
  });
}

/** Creates the catalog's topics and registers their schemas (`parley-kafka provision`, as make dev does). */
export function provision(env: Record<string, string>): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, "packages/kafka/dist/cli.js"), "provision"],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    child.once("exit", (code) => {
      if (code === 0) resolveRun();
      else reject(new Error(`parley-kafka provision exited with ${String(code)}`));
    });
  });
}
