import { retryOf } from "@parley/errors";
import type { Logger } from "@parley/telemetry";
import express, { type NextFunction, type Request, type Response } from "express";
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
import { bearerToken, type Keyring, type Principal } from "./api-keys.js";
import { PROBLEM_CONTENT_TYPE, problems, type Problem } from "./problem.js";

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
] as const;

const REALM = 'Bearer realm="parley-query-api"';
const MAX_PATH_PARAM = 512;

export interface QueryApiOptions {
  readonly queries: Queries;
  readonly keyring: Keyring;
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

function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/**
 * The authenticated query API as an Express app, GET only. Gates on every request, in order:
 * API key (401), the `read` scope (403), per-key rate (429); then the parameters (400 listing
 * each refused one), the generation (404 if asked for one that does not exist), the read (503
 * while MongoDB is unavailable). Phone numbers are masked unless the key has the `pii` scope.
 */
export function createQueryApiApp({
  queries,
  keyring,
  rateLimiter,
  logger,
  observe = () => undefined,
  now = () => Date.now(),
  isStopping = () => false,
  onWork = () => () => undefined,
}: QueryApiOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use((_req, res, next) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "no-store");
    if (isStopping()) res.setHeader("Connection", "close");
    next();
  });

  const refuse = (res: Response, challenge: string, problem: Problem) => {
    res.setHeader("WWW-Authenticate", challenge);
    sendProblem(res, problem);
  };

  const authenticate = (req: Request, res: Response): Principal | undefined => {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === "") {
      refuse(
        res,
        REALM,
        problems.unauthorized("an API key is required: Authorization: Bearer <key>"),
      );
      return undefined;
    }
    const token = bearerToken(header);
    if (token === undefined) {
      refuse(
        res,
        `${REALM}, error="invalid_request"`,
        problems.unauthorized("the Authorization header must be: Bearer <key>"),
      );
      return undefined;
    }
    const principal = keyring.authenticate(token);
    if (principal === undefined) {
      refuse(
        res,
        `${REALM}, error="invalid_token"`,
        problems.unauthorized("the API key is not valid"),
      );
      return undefined;
    }
    if (!principal.scopes.has("read")) {
      refuse(res, `${REALM}, error="insufficient_scope", scope="read"`, problems.forbidden("read"));
      return undefined;
    }
    if (!rateLimiter.take(principal.id, now())) {
      res.setHeader("Retry-After", "1");
      sendProblem(res, problems.rateLimited());
      return undefined;
    }
    if (isStopping()) {
      res.setHeader("Retry-After", "1");
      sendProblem(res, problems.unavailable("shutting down; retry"));
      return undefined;
    }
    return principal;
  };

  const get = (path: string, handler: (req: Request, audience: Audience) => Promise<Answer>) => {
    const expressPath = path.replace(/\{(\w+)\}/g, ":$1");
    app.get(expressPath, (req, res) => {
      const started = performance.now();
      const done = onWork();
      const finish = (outcome: string) => {
        observe(path, outcome, (performance.now() - started) / 1_000);
        done();
      };
      const principal = authenticate(req, res);
      if (principal === undefined) {
        finish(
          res.statusCode === 429
            ? "rate_limited"
            : res.statusCode === 403
              ? "forbidden"
              : "unauthorized",
        );
        return;
      }
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
      handler(req, { pii: principal.scopes.has("pii") }).then(
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
    app.all(expressPath, (_req, res) => {
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

  app.use((req: Request, res: Response) => {
    sendProblem(res, problems.notFound(`no route ${req.method} ${req.path}`));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, "query API request could not be read");
    sendProblem(res, problems.internal());
  });
  return app;
}
