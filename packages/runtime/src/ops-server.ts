import { timingSafeEqual, createHash } from "node:crypto";
import type { Server } from "node:http";
import { createPlainOrTlsServer, type TlsFiles } from "./api-listener.js";
import express, { type NextFunction, type Request, type Response } from "express";
import {
  runReadiness,
  type LifePhase,
  type ReadinessCheck,
  type StatusSource,
} from "./readiness.js";

export interface OpsServerOptions {
  readonly service: string;
  readonly host: string;
  readonly port: number;
  /** Required as `Authorization: Bearer <token>` on every ops endpoint. */
  readonly token: string;
  readonly checks: readonly ReadinessCheck[];
  /** Components that report their own state (everything made from the service's Kafka client). */
  readonly sources?: readonly StatusSource[];
  readonly readinessTimeoutMs?: number;
  /** Prometheus text exposition of the service's registry. */
  readonly metrics: () => Promise<string>;
  readonly metricsContentType?: string;
  /**
   * Where the service is: `starting` until its components are up, `running`, then `stopping`
   * once shutdown has begun (load balancers stop routing before connections close).
   */
  readonly phase: () => LifePhase;
  /** Native TLS, its certificate reloaded when the files change. */
  readonly tls?: TlsFiles;
}

export interface OpsServer {
  readonly app: express.Express;
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

const digest = (value: string): Buffer => createHash("sha256").update(value).digest();

/** Compares fixed-length digests so neither the token's content nor its length leaks through timing. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? "")?.[1];
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

const problem = (res: Response, status: number, title: string, detail: string): void => {
  res
    .status(status)
    .type("application/problem+json")
    .json({ type: "about:blank", title, status, detail });
};

/**
 * The ops surface every service shares: `/healthz` (the process is up and its event loop turns),
 * `/readyz` (its state: starting, ready, degraded or shutting-down, with the reasons; 200 only
 * when ready) and `/metrics` (Prometheus), all behind a bearer token.
 */
export async function startOpsServer({
  service,
  host,
  port,
  token,
  checks,
  sources = [],
  readinessTimeoutMs = 2_000,
  metrics,
  metricsContentType = "text/plain; version=0.0.4; charset=utf-8",
  phase,
  tls,
}: OpsServerOptions): Promise<OpsServer> {
  const app = express();
  app.disable("x-powered-by");

  app.use((req: Request, res: Response, next: NextFunction) => {
    if (bearerMatches(req.headers.authorization, token)) {
      next();
      return;
    }
    res.setHeader("WWW-Authenticate", 'Bearer realm="parley-ops"');
    problem(
      res,
      401,
      "Unauthorized",
      "Send the service's ops token as 'Authorization: Bearer <OPS_TOKEN>'.",
    );
  });

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", service, uptimeSeconds: Math.round(process.uptime()) });
  });

  app.get("/readyz", async (_req, res) => {
    const report = await runReadiness(checks, readinessTimeoutMs, { phase: phase(), sources });
    res.status(report.ready ? 200 : 503).json({
      status: report.state,
      service,
      reasons: report.reasons,
      checks: report.checks,
      components: report.components,
    });
  });

  app.get("/metrics", async (_req, res) => {
    res.type(metricsContentType).send(await metrics());
  });

  app.use((req: Request, res: Response) => {
    problem(
      res,
      404,
      "Not Found",
      `No ops endpoint at ${req.method} ${req.path}; try /healthz, /readyz or /metrics.`,
    );
  });

  const { server, unwatch } = createPlainOrTlsServer(app, {
    tls,
    headersTimeout: 10_000,
    requestTimeout: 30_000,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.keepAliveTimeout = 5_000;
  const address = server.address();
  const boundPort = typeof address === "object" && address !== null ? address.port : port;

  return {
    app,
    server,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        unwatch();
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
