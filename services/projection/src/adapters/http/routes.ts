import { retryOf } from "@parley/errors";
import type { Logger } from "@parley/telemetry";
import {
  createApiChassis,
  sendProblem,
  type ApiChassis,
  type Authenticator,
} from "@parley/runtime";
import type { NextFunction, Request, Response } from "express";
import type { z } from "zod";
import {
  contactListParams,
  conversationListParams,
  itemParams,
  kpiParams,
  messageListParams,
  parseParams,
  requestListParams,
  seriesParams,
} from "../../queries/params.js";
import { UnknownGenerationError, type Queries } from "../../queries/queries.js";
import type { Audience } from "../../queries/views.js";
import { problems, type Problem } from "./problem.js";
import type { AuditQueries } from "../../audit/queries.js";
import { auditApiRoute, registerAuditRoute } from "./audit-route.js";
import { audienceApiRoute, registerAudienceRoute } from "./audience-route.js";
import type { AudienceQueries } from "../../audience/audience.js";

/**
 * Every route with every status it can answer; docs/projection-api.openapi.yaml documents
 * exactly these (adapters/http/openapi.unit.spec.ts checks it).
 */
export const queryApiRoutes = [
  { path: "/v1/requests", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/requests/{requestId}", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/messages", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/messages/{wamid}", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/contacts", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/contacts/{contactId}", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/conversations", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  {
    path: "/v1/conversations/{contactId}/{businessNumber}",
    statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503],
  },
  { path: "/v1/analytics/series", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/analytics/kpis", statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503] },
  { path: "/v1/generations", statuses: [200, 400, 401, 403, 405, 429, 500, 503] },
  auditApiRoute,
  audienceApiRoute,
] as const;

const MAX_PATH_PARAM = 512;

export interface QueryApiOptions {
  readonly queries: Queries;
  /** The audit log's query (`GET /v1/audit`, scope audit:read). */
  readonly audit?: AuditQueries;
  /** The audience query (`GET /v1/audience`, scope query:pii). */
  readonly audience?: AudienceQueries;
  /** API keys and bearer JWTs (the chassis of @parley/runtime). */
  readonly authenticator: Authenticator;
  readonly rateLimiter: { take(id: string, nowMs: number): boolean };
  readonly logger: Pick<Logger, "warn" | "error">;
  readonly observe?: (route: string, outcome: string, seconds: number) => void;
  readonly now?: () => number;
  readonly isStopping?: () => boolean;
  readonly onWork?: () => () => void;
}

/** What a route's handler answers: a body, or a problem. */
type Answer = { readonly body: unknown } | { readonly problem: Problem };

const notFound = (what: string): Answer => ({ problem: problems.notFound(what) });

/**
 * The authenticated query API as an Express app, GET only. Gates on every request, in order:
 * API key or bearer JWT (401), the `query:read` scope (403), per-key rate (429); then the parameters (400 listing
 * each refused one), the generation (404 if asked for one that does not exist), the read (503
 * while MongoDB is unavailable). Phone numbers are masked without the `query:pii` scope.
 */
export function createQueryApiApp({
  queries,
  audit,
  audience,
  authenticator,
  rateLimiter,
  logger,
  observe = () => undefined,
  now = () => Date.now(),
  isStopping = () => false,
  onWork = () => () => undefined,
}: QueryApiOptions): ApiChassis {
  const STARTED = "startedAt";
  const routeOf = (req: Request): string => {
    const path = (req.route as { path?: unknown } | undefined)?.path;
    return typeof path === "string" ? path.replace(/:(\w+)/g, "{$1}") : "unmatched";
  };
  const secondsOf = (res: Response): number =>
    (performance.now() - (res.locals[STARTED] as number)) / 1_000;
  const api = createApiChassis({
    api: "query",
    realm: "parley-query-api",
    authenticator,
    now,
    onRefused: (req, failure) => {
      const res = req.res;
      observe(
        routeOf(req),
        failure === "scope" ? "forbidden" : "unauthorized",
        res === undefined ? 0 : secondsOf(res),
      );
    },
  });
  const { app } = api;
  app.use((_req, res, next) => {
    res.locals[STARTED] = performance.now();
    if (isStopping()) res.setHeader("Connection", "close");
    next();
  });

  /** Per-key rate (429) and shutdown (503), after the caller is known. */
  const admit = (req: Request, res: Response, next: NextFunction): void => {
    if (!rateLimiter.take(api.principalOf(res).id, now())) {
      res.setHeader("Retry-After", "1");
      sendProblem(res, problems.rateLimited());
      observe(routeOf(req), "rate_limited", secondsOf(res));
      return;
    }
    if (isStopping()) {
      res.setHeader("Retry-After", "1");
      sendProblem(res, problems.unavailable("shutting down; retry"));
      observe(routeOf(req), "unavailable", secondsOf(res));
      return;
    }
    next();
  };

  const get = (path: string, handler: (req: Request, audience: Audience) => Promise<Answer>) => {
    api.route("get", path, "query:read", admit, (req, res) => {
      const done = onWork();
      const finish = (outcome: string) => {
        observe(path, outcome, secondsOf(res));
        done();
      };
      for (const [name, value] of Object.entries(req.params)) {
        if (typeof value !== "string" || value.length === 0 || value.length > MAX_PATH_PARAM) {
          sendProblem(
            res,
            problems.invalidParameters([
              { parameter: name, detail: `1 to ${String(MAX_PATH_PARAM)} characters` },
            ]),
          );
          finish("invalid");
          return;
        }
      }
      handler(req, { pii: api.principalOf(res).scopes.has("query:pii") }).then(
        (answer) => {
          if ("problem" in answer) {
            sendProblem(res, answer.problem);
            finish(answer.problem.status === 404 ? "not_found" : "invalid");
          } else {
            res.status(200).json(answer.body);
            finish("ok");
          }
        },
        (error: unknown) => {
          if (error instanceof UnknownGenerationError) {
            sendProblem(res, problems.notFound(`no generation ${String(error.generation)}`));
            finish("not_found");
          } else if (retryOf(error) === "outage") {
            logger.warn(
              { err: error, route: path },
              "query API: the read models are not answering; 503",
            );
            res.setHeader("Retry-After", "2");
            sendProblem(res, problems.unavailable("the read models are not answering; retry"));
            finish("unavailable");
          } else {
            logger.error({ err: error, route: path }, "query API request failed unexpectedly");
            sendProblem(res, problems.internal());
            finish("error");
          }
        },
      );
    });
    app.all(path.replace(/\{(\w+)\}/g, ":$1"), (_req, res) => {
      res.setHeader("Allow", "GET, HEAD");
      sendProblem(res, problems.methodNotAllowed());
    });
  };

  /** Parses a route's query parameters, or answers 400 with each refused one. */
  const params = <S extends z.ZodType>(
    schema: S,
    req: Request,
    then: (p: z.output<S>) => Promise<Answer>,
  ): Promise<Answer> => {
    const parsed = parseParams(schema, req.query as Record<string, unknown>);
    return parsed.ok
      ? then(parsed.value)
      : Promise.resolve({ problem: problems.invalidParameters(parsed.problems) });
  };
  const param = (req: Request, name: string): string => String(req.params[name]);
  const item = (found: unknown, what: string): Answer =>
    found === undefined ? notFound(what) : { body: found };

  get("/v1/requests", (req, audience) =>
    params(requestListParams, req, async (p) => ({ body: await queries.requests(p, audience) })),
  );
  get("/v1/requests/{requestId}", (req, audience) =>
    params(itemParams, req, async (p) =>
      item(
        await queries.request(param(req, "requestId"), p.generation, audience),
        "no such request",
      ),
    ),
  );
  get("/v1/messages", (req, audience) =>
    params(messageListParams, req, async (p) => ({ body: await queries.messages(p, audience) })),
  );
  get("/v1/messages/{wamid}", (req, audience) =>
    params(itemParams, req, async (p) =>
      item(await queries.message(param(req, "wamid"), p.generation, audience), "no such message"),
    ),
  );
  get("/v1/contacts", (req, audience) =>
    params(contactListParams, req, async (p) => ({ body: await queries.contacts(p, audience) })),
  );
  get("/v1/contacts/{contactId}", (req, audience) =>
    params(itemParams, req, async (p) =>
      item(
        await queries.contact(param(req, "contactId"), p.generation, audience),
        "no such contact",
      ),
    ),
  );
  get("/v1/conversations", (req, audience) =>
    params(conversationListParams, req, async (p) => ({
      body: await queries.conversations(p, audience),
    })),
  );
  get("/v1/conversations/{contactId}/{businessNumber}", (req, audience) =>
    params(itemParams, req, async (p) =>
      item(
        await queries.conversation(
          param(req, "contactId"),
          param(req, "businessNumber"),
          p.generation,
          audience,
        ),
        "no such conversation",
      ),
    ),
  );
  get("/v1/analytics/series", (req) =>
    params(seriesParams, req, async (p) => ({ body: await queries.series(p) })),
  );
  get("/v1/analytics/kpis", (req) =>
    params(kpiParams, req, async (p) => ({ body: await queries.kpis(p) })),
  );
  get("/v1/generations", (req) =>
    params(itemParams.omit({ generation: true }), req, async () => {
      const { active, generations } = await queries.generations();
      return {
        body: {
          active,
          generations: generations.map(({ targets: _targets, ...g }) => g),
        },
      };
    }),
  );

  registerAuditRoute(api, {
    audit,
    admit,
    logger,
    onWork,
    observe: (o, res) => {
      observe("/v1/audit", o, secondsOf(res));
    },
  });

  registerAudienceRoute(api, {
    audience,
    admit,
    logger,
    onWork,
    observe: (o, res) => {
      observe("/v1/audience", o, secondsOf(res));
    },
  });

  app.use((req: Request, res: Response) => {
    sendProblem(res, problems.notFound(`no route ${req.method} ${req.path}`));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, "query API request could not be read");
    sendProblem(res, problems.internal());
  });
  return api;
}
