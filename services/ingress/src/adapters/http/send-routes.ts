import {
  createApiChassis,
  type ApiChassis,
  type Authenticator,
  type Principal,
} from "@parley/runtime";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "@parley/telemetry";
import type { RateLimiter } from "../../admission/rate-limit.js";
import type { AcceptSend } from "../../sending/accept.js";
import type { SendApiMetrics, SendApiOutcome } from "../../metrics.js";
import { PROBLEM_CONTENT_TYPE, problems, type Problem } from "./problem.js";
import { IDEMPOTENCY_HEADER, mapSendRequest } from "./send-body.js";
import type { SendRecord, SendRecordStore } from "../../sending/store.js";
import type { ProjectedRequest, RequestOutcomes } from "../../sending/outcomes.js";

export const MESSAGES_PATH = "/v1/messages";

/**
 * Every route with every status it can answer; docs/send-api.openapi.yaml documents exactly
 * these (adapters/http/openapi.unit.spec.ts checks it).
 */
export const sendApiRoutes = [
  {
    method: "post",
    path: MESSAGES_PATH,
    statuses: [200, 202, 400, 401, 403, 405, 409, 413, 415, 429, 500, 503],
  },
  {
    method: "get",
    path: `${MESSAGES_PATH}/{requestId}`,
    statuses: [200, 401, 403, 404, 405, 429, 500, 503],
  },
] as const;

export interface SendApiAppOptions {
  /** API keys and bearer JWTs (the chassis of @parley/runtime). */
  readonly authenticator: Authenticator;
  readonly acceptSend: AcceptSend;
  readonly store: Pick<SendRecordStore, "findByRequestId">;
  /**
   * The projection's read models (ADR 0011): the GET adds the request's final word and its
   * messages' statuses. Absent: the GET answers with ingress's record alone.
   */
  readonly outcomes?: RequestOutcomes;
  readonly bodyLimitBytes: number;
  /** Per API key (principal id). */
  readonly rateLimiter: RateLimiter;
  readonly metrics: SendApiMetrics;
  readonly logger: Pick<Logger, "info" | "warn" | "error" | "debug">;
  readonly now?: () => Date;
  /** True once shutdown began: new requests get 503 and connections close after each answer. */
  readonly isStopping?: () => boolean;
  /** Called when a request starts its work; the returned function when it ends (shutdown drains). */
  readonly onWork?: () => () => void;
}

function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

function bodyParserErrorType(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "type" in error) {
    const { type } = error;
    return typeof type === "string" ? type : undefined;
  }
  return undefined;
}

/** The answer body for a stored request: what ingress knows of it (outcomes are on Kafka). */
export function requestView(record: SendRecord) {
  return {
    requestId: record.requestId,
    idempotencyKey: record.idempotencyKey,
    contactId: record.contactId,
    requester: record.requester,
    acceptedAt: record.acceptedAt.toISOString(),
    publishedAt: record.publishedAt?.toISOString() ?? null,
    state: record.publishedAt === undefined ? "pending" : "published",
  };
}

/**
 * What the projection knows of the request: its final word (`outcome`: null until the projection
 * has seen the request), one word for where it stands (`decision`), every status of its messages
 * in Meta's time order (`statuses`) and each message with its timeline.
 */
export function outcomeView(projected: ProjectedRequest | undefined) {
  if (projected === undefined) return { outcome: null, decision: null, statuses: [], messages: [] };
  const statuses = projected.messages
    .flatMap((m) => m.timeline.map((t) => ({ wamid: m.wamid, ...t })))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return {
    outcome: projected.final,
    decision: projected.status,
    ...(projected.original === undefined ? {} : { original: projected.original }),
    statuses,
    messages: projected.messages,
  };
}

const locationOf = (requestId: string): string =>
  `${MESSAGES_PATH}/${encodeURIComponent(requestId)}`;

/**
 * The authenticated HTTP send API as an Express app. Gates on every request, in order:
 * API key or bearer JWT (401), scope (403), per-key rate (429); then for POST the content type (415), the
 * body within its limit (413), JSON (400), the mapping to SendRequested (400 listing every
 * issue), and the store-then-publish use case (202, 200 for a repeated key, 409, 503).
 */
export function createSendApiApp({
  authenticator,
  acceptSend,
  store,
  outcomes,
  bodyLimitBytes,
  rateLimiter,
  metrics,
  logger,
  now = () => new Date(),
  isStopping = () => false,
  onWork = () => () => undefined,
}: SendApiAppOptions): ApiChassis {
  const count = (req: Request, outcome: SendApiOutcome): void => {
    const route = (req.route as { path?: string } | undefined)?.path ?? "none";
    metrics.requests.inc({ route: `${req.method} ${route}`, outcome });
  };
  const api = createApiChassis({
    api: "messages",
    realm: "parley-send-api",
    authenticator,
    now: () => now().getTime(),
    onRefused: (req, reason) => {
      metrics.authFailures.inc({ reason });
      count(req, reason === "scope" ? "forbidden" : "unauthorized");
      // Who and why, never the presented credential.
      logger.warn({ reason, sourceIp: req.ip, path: req.path }, "send API request refused");
    },
  });
  const { app } = api;
  const principalOf = (res: Response): Principal => api.principalOf(res);
  /** The send API's requester: the key file's, or a token's subject. */
  const requesterOf = (principal: Principal): string =>
    principal.attributes["requester"] ?? principal.id;

  app.use((_req, res, next) => {
    if (isStopping()) res.setHeader("Connection", "close");
    next();
  });

  /** Per-key rate (429) and shutdown (503), once the caller is known. */
  const admit = (req: Request, res: Response, next: NextFunction): void => {
    if (!rateLimiter.take(principalOf(res).id, now().getTime())) {
      count(req, "rate_limited");
      res.setHeader("Retry-After", "1");
      sendProblem(res, problems.rateLimited());
      return;
    }
    if (isStopping()) {
      count(req, "shutting_down");
      res.setHeader("Retry-After", "1");
      sendProblem(res, problems.unavailable("shutting down; retry"));
      return;
    }
    next();
  };

  const requireJson = (req: Request, res: Response, next: NextFunction): void => {
    // No body at all (null) is refused like a wrong type: a send needs a JSON body.
    if (!req.is(["application/json", "application/*+json"])) {
      count(req, "unsupported_media_type");
      sendProblem(
        res,
        problems.unsupportedMediaType("send the request as Content-Type: application/json"),
      );
      return;
    }
    next();
  };

  const tracked =
    (handler: (req: Request, res: Response) => Promise<void>) =>
    async (req: Request, res: Response): Promise<void> => {
      const done = onWork();
      try {
        await handler(req, res);
      } catch (error) {
        logger.error({ err: error, path: req.path }, "send API request failed unexpectedly");
        if (!res.headersSent) {
          sendProblem(res, {
            type: "about:blank",
            title: "Internal Server Error",
            status: 500,
          });
        }
      } finally {
        done();
      }
    };

  api.route(
    "post",
    MESSAGES_PATH,
    "messages:send",
    admit,
    requireJson,
    express.json({ limit: bodyLimitBytes, strict: false, type: () => true }),
    tracked(async (req, res) => {
      const principal = principalOf(res);
      const mapped = mapSendRequest(req.body, {
        idempotencyKey: req.get(IDEMPOTENCY_HEADER),
        requester: requesterOf(principal),
      });
      if (!mapped.ok) {
        count(req, "invalid");
        sendProblem(res, problems.invalidRequest(mapped.errors));
        return;
      }
      const result = await acceptSend({ principal: principal.id, data: mapped.data });
      switch (result.kind) {
        case "accepted":
        case "replayed": {
          const { record } = result;
          const replayed = result.kind === "replayed";
          count(req, replayed ? "replayed" : "accepted");
          logger.info(
            {
              requestId: record.requestId,
              principal: principal.id,
              idempotencyKey: record.idempotencyKey,
              replayed,
            },
            replayed ? "send request repeated; original request id returned" : "send requested",
          );
          res.setHeader("Location", locationOf(record.requestId));
          if (replayed) res.setHeader("Idempotent-Replayed", "true");
          res.status(replayed ? 200 : 202).json({
            requestId: record.requestId,
            idempotencyKey: record.idempotencyKey,
            acceptedAt: record.acceptedAt.toISOString(),
          });
          return;
        }
        case "conflict":
          count(req, "conflict");
          sendProblem(res, problems.idempotencyConflict(result.requestId));
          return;
        case "unavailable":
          count(req, "unavailable");
          logger.error(
            {
              err: result.cause,
              principal: principal.id,
              idempotencyKey: mapped.data.idempotencyKey,
              dependency: result.dependency,
            },
            "send request not accepted; answering 503",
          );
          res.setHeader("Retry-After", result.dependency === "kafka" ? "5" : "2");
          sendProblem(res, {
            ...problems.unavailable(result.detail),
            ...(result.requestId === undefined ? {} : { requestId: result.requestId }),
          });
          return;
      }
    }),
  );

  api.route(
    "get",
    `${MESSAGES_PATH}/{requestId}`,
    "messages:read",
    admit,
    tracked(async (req, res) => {
      const principal = principalOf(res);
      const requestId = String(req.params["requestId"]);
      let record: SendRecord | undefined;
      try {
        record = await store.findByRequestId(principal.id, requestId);
      } catch (error) {
        count(req, "unavailable");
        logger.error({ err: error, requestId }, "send request lookup failed; answering 503");
        res.setHeader("Retry-After", "2");
        sendProblem(res, problems.unavailable("the request store is not answering; retry"));
        return;
      }
      if (record === undefined) {
        count(req, "not_found");
        sendProblem(res, problems.notFound(`no request ${requestId} made with this API key`));
        return;
      }
      if (outcomes === undefined) {
        count(req, "found");
        res.status(200).json(requestView(record));
        return;
      }
      let projected: ProjectedRequest | undefined;
      try {
        projected = await outcomes.lookup(requestId);
      } catch (error) {
        count(req, "unavailable");
        logger.warn({ err: error, requestId }, "the projection's query API is not answering; 503");
        res.setHeader("Retry-After", "2");
        sendProblem(
          res,
          problems.unavailable("the projection (outcomes and statuses) is not answering; retry"),
        );
        return;
      }
      count(req, "found");
      res.status(200).json({ ...requestView(record), ...outcomeView(projected) });
    }),
  );

  const methodNotAllowed = (allow: string) => (req: Request, res: Response) => {
    count(req, "no_route");
    res.setHeader("Allow", allow);
    sendProblem(res, problems.methodNotAllowed(allow));
  };
  app.all(MESSAGES_PATH, methodNotAllowed("POST"));
  app.all(`${MESSAGES_PATH}/:requestId`, methodNotAllowed("GET"));

  app.use((req, res) => {
    count(req, "no_route");
    sendProblem(res, problems.notFound(`no route ${req.method} ${req.path}`));
  });

  // Body-reading failures: too large, not JSON, an encoding or charset we do not read.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const type = bodyParserErrorType(error);
    if (type === "entity.too.large") {
      count(req, "too_large");
      sendProblem(res, problems.tooLarge(bodyLimitBytes));
      return;
    }
    if (type === "encoding.unsupported" || type === "charset.unsupported") {
      count(req, "unsupported_media_type");
      sendProblem(
        res,
        problems.unsupportedMediaType(
          type === "charset.unsupported"
            ? "the body must be UTF-8 JSON"
            : "this Content-Encoding is not supported",
        ),
      );
      return;
    }
    count(req, "invalid");
    if (type === "request.aborted") return;
    if (type === "entity.parse.failed") {
      sendProblem(res, problems.malformedJson());
      return;
    }
    logger.warn({ type, path: req.path }, "send API request could not be read");
    sendProblem(res, { type: "about:blank", title: "Bad Request", status: 400 });
  });

  return api;
}
