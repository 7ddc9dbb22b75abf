import { randomUUID } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import {
  SIGNATURE_HEADER,
  verifySubscriptionChallenge,
  verifyWebhookSignature,
} from "@parley/cloud-api";
import type { Component, ReadinessCheck } from "@parley/runtime";
import type { Logger } from "@parley/telemetry";
import { extractRouting } from "../../webhooks/routing.js";
import type { RateLimiter } from "../../admission/rate-limit.js";
import type { WebhookMetrics, WebhookOutcome } from "../../metrics.js";
import { AppendFailedError, type RawWebhookAppender } from "../../webhooks/appender.js";
import type { AllowList } from "./allow-list.js";
import { startApiListener, type TlsFiles } from "@parley/runtime";

export const WEBHOOK_PATH = "/webhooks/whatsapp";

export interface WebhookServerOptions {
  readonly host: string;
  /** Native TLS (the webhook stays unauthenticated: Meta's signature is its check). */
  readonly tls?: TlsFiles | undefined;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly verifyToken: string;
  /** The current app secret first, then the previous one during a rotation. */
  readonly appSecrets: readonly string[];
  readonly bodyLimitBytes: number;
  /** Express's "trust proxy": which X-Forwarded-For hops to believe for the client address. */
  readonly trustProxy: boolean | number | string;
  readonly rateLimiter: RateLimiter;
  readonly allowList: AllowList;
  readonly appender: RawWebhookAppender;
  readonly metrics: WebhookMetrics;
  readonly logger: Pick<Logger, "info" | "warn" | "error">;
  readonly now?: () => Date;
  readonly generateId?: () => string;
}

export interface WebhookServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

interface Problem {
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
}

/** RFC 9457 problem details; `type` is about:blank, so `title` is the status's meaning. */
function sendProblem(res: Response, { status, title, detail }: Problem): void {
  res
    .status(status)
    .type("application/problem+json")
    .send(JSON.stringify({ type: "about:blank", title, status, ...(detail ? { detail } : {}) }));
}

function bodyParserErrorType(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "type" in error) {
    const { type } = error;
    return typeof type === "string" ? type : undefined;
  }
  return undefined;
}

function headerValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === "string" ? value : value?.[0];
}

/** The answer to an appended webhook, written without Express's response helpers. */
const OK_BODY = "OK";
const OK_HEADERS = {
  "Content-Type": "text/plain; charset=utf-8",
  "Content-Length": String(Buffer.byteLength(OK_BODY)),
};

/** The exact webhook path, with or without a query string: the POSTs the lean path takes. */
function isWebhookPost(req: IncomingMessage): boolean {
  if (req.method !== "POST" || req.url === undefined) return false;
  return (
    req.url === WEBHOOK_PATH ||
    (req.url.startsWith(WEBHOOK_PATH) && req.url.charCodeAt(WEBHOOK_PATH.length) === 63) // "?"
  );
}

/**
 * The public webhook endpoint. Order of the gates on every request: address allow-list (403),
 * per-address token bucket (429); then for POST the raw body within its limit (413), the
 * signature over those exact bytes (401), and the durable append (200, or 503 so Meta retries).
 * Bodies are never logged or parsed beyond the routing ids.
 *
 * An Express app serves everything. The hot path, a POST to the exact webhook path, skips
 * Express's router and goes through the same steps directly (the same body parser, gates,
 * handler and error handler, with the request and response given Express's prototypes as
 * Express itself does): the router's per-request matching was a large share of the CPU.
 */
export function createWebhookApp({
  verifyToken,
  appSecrets,
  bodyLimitBytes,
  trustProxy,
  rateLimiter,
  allowList,
  appender,
  metrics,
  logger,
  now = () => new Date(),
  generateId = randomUUID,
  isStopping = () => false,
  onAppend = () => () => undefined,
}: Omit<WebhookServerOptions, "host" | "port"> & {
  /** True once shutdown began: new POSTs get 503 and connections are closed after each answer. */
  readonly isStopping?: () => boolean;
  /** Called when an append starts; the returned function when it settles (shutdown drains these). */
  readonly onAppend?: () => () => void;
}): RequestListener {
  if (appSecrets.length === 0 || appSecrets.some((s) => s.length === 0)) {
    throw new RangeError("createWebhookApp: appSecrets needs at least one non-empty app secret");
  }
  if (verifyToken.length === 0) throw new RangeError("createWebhookApp: verifyToken is empty");
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("trust proxy", trustProxy);

  const count = (req: Request, outcome: WebhookOutcome): void => {
    metrics.requests.inc({ method: req.method, outcome });
  };

  const commonHeaders = (res: ServerResponse): void => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "no-store");
    if (isStopping()) res.setHeader("Connection", "close");
  };

  /** The address and rate gates: false once the request was answered. */
  const passesGates = (req: Request, res: Response): boolean => {
    if (!allowList.allows(req.ip)) {
      count(req, "address_forbidden");
      sendProblem(res, { status: 403, title: "Forbidden", detail: "address not allowed" });
      return false;
    }
    if (!rateLimiter.take(req.ip ?? "unknown", now().getTime())) {
      count(req, "rate_limited");
      res.setHeader("Retry-After", "1");
      sendProblem(res, { status: 429, title: "Too Many Requests" });
      return false;
    }
    return true;
  };

  const gates = (req: Request, res: Response, next: NextFunction): void => {
    if (passesGates(req, res)) next();
  };

  const readBody: RequestHandler = express.raw({
    type: () => true,
    limit: bodyLimitBytes,
    inflate: false,
  });

  /** A refused signature: counted, logged without the body, answered 401. */
  const refuseSignature = (req: Request, res: Response, size: number, missing: boolean): void => {
    metrics.signatureFailures.inc({ reason: missing ? "missing" : "mismatch" });
    count(req, missing ? "signature_missing" : "signature_invalid");
    logger.warn(
      { sourceIp: req.ip, sizeBytes: size },
      missing ? "webhook without a signature refused" : "webhook with a bad signature refused",
    );
    sendProblem(res, {
      status: 401,
      title: "Unauthorized",
      detail: missing ? "X-Hub-Signature-256 missing" : "X-Hub-Signature-256 does not match",
    });
  };

  const postWebhook = async (req: Request, res: Response): Promise<void> => {
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    metrics.bodySize.observe(body.length);
    const signature = headerValue(req.headers[SIGNATURE_HEADER]);
    if (signature === undefined || signature.length === 0) {
      refuseSignature(req, res, body.length, true);
      return;
    }
    if (!verifyWebhookSignature(body, signature, appSecrets)) {
      refuseSignature(req, res, body.length, false);
      return;
    }
    if (isStopping()) {
      count(req, "shutting_down");
      res.setHeader("Retry-After", "1");
      sendProblem(res, { status: 503, title: "Service Unavailable", detail: "shutting down" });
      return;
    }
    const deliveryId = generateId();
    const routing = extractRouting(body);
    const settled = onAppend();
    metrics.appendsInFlight.inc();
    const stopTimer = metrics.appendSeconds.startTimer();
    try {
      await appender.append({
        deliveryId,
        body,
        signature,
        receivedAt: now(),
        contentType: headerValue(req.headers["content-type"]),
        sourceIp: req.ip,
        userAgent: headerValue(req.headers["user-agent"]),
        routing,
      });
      stopTimer({ result: "ok" });
      count(req, "accepted");
      res.writeHead(200, OK_HEADERS).end(OK_BODY);
    } catch (error) {
      const timedOut = error instanceof AppendFailedError && error.reason === "timeout";
      stopTimer({ result: timedOut ? "timeout" : "failed" });
      count(req, timedOut ? "append_timeout" : "append_failed");
      logger.error(
        {
          err: error,
          deliveryId,
          sizeBytes: body.length,
          phoneNumberIds: routing.phoneNumberIds,
        },
        "webhook not appended to the raw topic; answering 503 so Meta retries",
      );
      res.setHeader("Retry-After", "1");
      sendProblem(res, {
        status: 503,
        title: "Service Unavailable",
        detail: "not stored; retry",
      });
    } finally {
      metrics.appendsInFlight.dec();
      settled();
    }
  };

  /** Body-reading failures: too large, aborted, an encoding we do not hash. */
  const bodyError = (error: unknown, req: Request, res: Response): void => {
    const type = bodyParserErrorType(error);
    if (type === "entity.too.large") {
      count(req, "body_too_large");
      sendProblem(res, {
        status: 413,
        title: "Content Too Large",
        detail: `the body limit is ${bodyLimitBytes} bytes`,
      });
      return;
    }
    count(req, "bad_request");
    if (type === "request.aborted") return;
    logger.warn({ type, sourceIp: req.ip }, "webhook request could not be read");
    if (type === "encoding.unsupported") {
      sendProblem(res, {
        status: 415,
        title: "Unsupported Media Type",
        detail: "Content-Encoding is not supported",
      });
      return;
    }
    sendProblem(res, { status: 400, title: "Bad Request" });
  };

  app.use((_req, res, next) => {
    commonHeaders(res);
    next();
  });

  app.get(WEBHOOK_PATH, gates, (req, res) => {
    const result = verifySubscriptionChallenge(
      req.query as Record<string, string | string[] | undefined>,
      verifyToken,
    );
    if (!result.ok) {
      count(req, "challenge_rejected");
      logger.warn({ reason: result.reason }, "webhook subscription check refused");
      sendProblem(res, { status: 403, title: "Forbidden" });
      return;
    }
    count(req, "challenge_accepted");
    res.status(200).type("text/plain").send(result.challenge);
  });

  app.post(WEBHOOK_PATH, gates, readBody, postWebhook);

  app.all(WEBHOOK_PATH, (req, res) => {
    count(req, "not_found");
    res.setHeader("Allow", "GET, POST");
    sendProblem(res, { status: 405, title: "Method Not Allowed" });
  });

  app.use((req, res) => {
    count(req, "not_found");
    sendProblem(res, { status: 404, title: "Not Found" });
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    bodyError(error, req, res);
  });

  /** The lean path: what Express would run for this request, without its router. */
  const fastPost = (message: IncomingMessage, response: ServerResponse): void => {
    const req = message as Request;
    const res = response as Response;
    req.res = res;
    res.req = req;
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    // As Express's router would: a throw anywhere here ends in the error handler, not the process.
    const failed = (failure: unknown): void => {
      bodyError(failure, req, res);
    };
    try {
      commonHeaders(res);
      if (!passesGates(req, res)) return;
      readBody(req, res, (error?: unknown) => {
        if (error !== undefined) {
          failed(error);
          return;
        }
        postWebhook(req, res).catch(failed);
      });
    } catch (error) {
      failed(error);
    }
  };

  return (req, res) => {
    const started = performance.now();
    const method = req.method === "POST" || req.method === "GET" ? req.method : "other";
    res.once("finish", () => {
      metrics.responseSeconds.observe({ method }, (performance.now() - started) / 1_000);
    });
    if (isWebhookPost(req)) fastPost(req, res);
    else app(req, res);
  };
}

/**
 * Starts the webhook listener as a chassis component. `stop` stops accepting connections,
 * answers new requests on open connections with 503, waits for the appends in flight to settle
 * (each is bounded by the appender's timeout), then closes the listener; the producer, stopped
 * after this component, flushes last.
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const listener = await startApiListener({
    host: options.host,
    port: options.port,
    tls: options.tls,
    checkName: "webhook-server",
    description: "the webhook listener",
    // A slow client cannot hold a connection for long: 3 MB arrive well within its bounds.
    app: ({ isStopping, begin }) => createWebhookApp({ ...options, isStopping, onAppend: begin }),
  });
  const { port } = listener;
  options.logger.info(
    { host: options.host, port, path: WEBHOOK_PATH },
    "webhook endpoint listening",
  );

  return { name: "webhook server", port, check: listener.check, stop: () => listener.stop() };
}
