import type { TlsFiles } from "./api-listener.js";
import { ConfigError } from "@parley/config";
import { startOpsServer, type OpsServer } from "./ops-server.js";
import type { LifePhase, ReadinessCheck, StatusSource } from "./readiness.js";

type LogFn = (fields: Record<string, unknown>, message: string) => void;
/** The slice of a pino logger the chassis needs. */
export interface ChassisLogger {
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
}

/** A running part of a service. `stop` stops taking work, finishes or hands back what is in flight, flushes and closes. */
export interface Component {
  readonly name: string;
  stop(): Promise<void>;
}

export interface Started {
  readonly checks: readonly ReadinessCheck[];
  /** Components that report their own state (see StartContext.report for ones known earlier). */
  readonly sources?: readonly StatusSource[];
  /** Stopped in reverse order: a consumer before the producer it feeds, clients before their connections. */
  readonly components: readonly Component[];
}

export interface RunServiceOptions {
  readonly name: string;
  readonly logger: ChassisLogger;
  readonly ops: {
    /** Native TLS on the ops listener (HTTP_TLS_CERT_PATH, HTTP_TLS_KEY_PATH). */
    readonly tls?: TlsFiles | undefined;
    readonly host: string;
    readonly port: number;
    readonly token: string;
    readonly readinessTimeoutMs: number;
  };
  readonly shutdownTimeoutMs: number;
  readonly metrics: () => Promise<string>;
  readonly metricsContentType?: string;
  /** Flushes traces last, after everything that could still produce spans has stopped. */
  readonly telemetry?: { shutdown(): Promise<void> };
  readonly start: (context: StartContext) => Promise<Started>;
  /** Injectable for tests; defaults to the real process. */
  readonly exit?: (code: number) => void;
  readonly processEvents?: Pick<NodeJS.Process, "on" | "off">;
}

/** Given to `start`, so what it creates can be seen by /readyz while it is still starting. */
export interface StartContext {
  /** Adds components that report their own state (a Kafka client's consumers and producers). */
  report(source: StatusSource): void;
}

export interface RunningService {
  readonly opsPort: number;
  /** Begins a graceful shutdown; resolves with the exit code once it is over. */
  shutdown(reason: string): Promise<number>;
  readonly exited: Promise<number>;
}

/**
 * Starts a service on the shared chassis and owns its life cycle: ops endpoints first (so
 * /healthz answers while dependencies connect), then the service's components; on SIGTERM or
 * SIGINT it stops taking work, drains, flushes and closes within `shutdownTimeoutMs`.
 */
export async function runService({
  name,
  logger,
  ops,
  shutdownTimeoutMs,
  metrics,
  metricsContentType,
  telemetry,
  start,
  exit = (code) => {
    process.exit(code);
  },
  processEvents = process,
}: RunServiceOptions): Promise<RunningService> {
  let phase: LifePhase = "starting";
  let started: Started = { checks: [], components: [] };
  const checks: ReadinessCheck[] = [];
  const sources: StatusSource[] = [];

  const server: OpsServer = await startOpsServer({
    service: name,
    host: ops.host,
    port: ops.port,
    token: ops.token,
    readinessTimeoutMs: ops.readinessTimeoutMs,
    ...(ops.tls === undefined ? {} : { tls: ops.tls }),
    checks,
    sources,
    metrics,
    ...(metricsContentType === undefined ? {} : { metricsContentType }),
    phase: () => phase,
  });
  logger.info({ host: ops.host, port: server.port }, `${name}: ops endpoints listening`);

  let resolveExited: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => {
    resolveExited = resolve;
  });
  let shuttingDown: Promise<number> | undefined;

  const shutdown = (reason: string, failing: boolean | number = false): Promise<number> => {
    if (shuttingDown) return shuttingDown;
    phase = "stopping";
    logger.info({ reason, timeoutMs: shutdownTimeoutMs }, `${name}: shutting down`);
    shuttingDown = (async () => {
      let current = "start";
      const work = (async () => {
        for (const component of [...started.components].reverse()) {
          current = component.name;
          await component.stop();
          logger.info({ component: component.name }, `${name}: stopped ${component.name}`);
        }
        current = "ops server";
        await server.close();
        current = "telemetry";
        await telemetry?.shutdown();
      })();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => {
          resolve("timeout");
        }, shutdownTimeoutMs);
      });
      let code = typeof failing === "number" ? failing : failing ? 1 : 0;
      try {
        if ((await Promise.race([work, deadline])) === "timeout") {
          logger.error(
            { stuckAt: current },
            `${name}: shutdown exceeded ${shutdownTimeoutMs} ms while stopping ${current}; exiting anyway`,
          );
          code = 1;
        }
      } catch (error) {
        logger.error(
          { err: error, stuckAt: current },
          `${name}: shutdown failed while stopping ${current}`,
        );
        code = 1;
      } finally {
        clearTimeout(timer);
      }
      logger.info({ code }, `${name}: exit`);
      detach();
      resolveExited(code);
      exit(code);
      return code;
    })();
    return shuttingDown;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn({ signal }, `${name}: second ${signal} during shutdown; exiting now`);
      exit(130);
      return;
    }
    void shutdown(signal);
  };
  const onFatal = (error: unknown): void => {
    logger.fatal({ err: error }, `${name}: unexpected error; shutting down`);
    void shutdown("fatal error", true);
  };
  const detach = (): void => {
    processEvents.off("SIGTERM", onSignal);
    processEvents.off("SIGINT", onSignal);
    processEvents.off("uncaughtException", onFatal);
    processEvents.off("unhandledRejection", onFatal);
  };
  processEvents.on("SIGTERM", onSignal);
  processEvents.on("SIGINT", onSignal);
  processEvents.on("uncaughtException", onFatal);
  processEvents.on("unhandledRejection", onFatal);

  try {
    started = await start({
      report: (source) => {
        sources.push(source);
      },
    });
  } catch (error) {
    logger.fatal({ err: error }, `${name}: could not start`);
    // A setting the servers refused (a wrong password, an untrusted certificate) is fixed in the
    // environment like any other configuration error: the same message on stderr and exit 78.
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    await shutdown("start-up failed", error instanceof ConfigError ? 78 : true);
    return { opsPort: server.port, shutdown, exited };
  }
  checks.push(...started.checks);
  sources.push(...(started.sources ?? []));
  // A signal during start-up has begun the shutdown already: it stays "stopping".
  if (shuttingDown === undefined) phase = "running";
  logger.info(
    {
      components: started.components.map((c) => c.name),
      checks: started.checks.map((c) => c.name),
    },
    `${name}: started`,
  );

  return { opsPort: server.port, shutdown: (reason) => shutdown(reason), exited };
}
