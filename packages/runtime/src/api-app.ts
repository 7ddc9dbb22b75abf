import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import { qualify, type Authenticator, type AuthRefusal, type Principal } from "./api-access.js";
import { apiProblems, sendProblem } from "./api-problem.js";

export type HttpMethod = "get" | "post" | "put" | "patch" | "delete";

/** A route as its OpenAPI document names it, with the scope it needs (the role table test reads these). */
export interface DeclaredRoute {
  readonly method: HttpMethod;
  /** OpenAPI form: `/v1/media/{id}`. */
  readonly path: string;
  readonly scope: string;
  /** The audit action recorded when the route succeeds, if it is a sensitive operation. */
  readonly audit?: string;
}

/** A sensitive operation done (docs/access-control.md, "Audit"): who, what, on which target. */
export interface AuditEntry {
  readonly action: string;
  readonly principal: Principal;
  readonly method: string;
  /** The route's OpenAPI path and its parameters (ids, never bodies). */
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
  readonly status: number;
  readonly at: Date;
}

export type AuthFailure = AuthRefusal | "scope";

export interface ApiChassisOptions {
  /** The scope prefix (`consent`) and realm (`parley-consent`) of the API. */
  readonly api: string;
  readonly realm: string;
  readonly authenticator: Authenticator;
  readonly now?: () => number;
  /** Each refusal (metrics, a log line with who and why, never the credential). */
  readonly onRefused?: (req: Request, failure: AuthFailure) => void;
  /** A sensitive route succeeded; the service publishes it (AuditRecorded). */
  readonly onAudit?: (entry: AuditEntry) => void;
}

export interface ApiChassis {
  readonly app: Express;
  /** Authenticates (once per request): the principal, or a 401 problem with its challenge. */
  readonly authenticate: RequestHandler;
  /** Authenticates if not yet done, then checks the scope: 403 naming it when missing. */
  readonly guard: (scope: string) => RequestHandler;
  /**
   * Declares a route with its scope (and audit action): the guard runs first, then `handlers`.
   * The path is in OpenAPI form (`{id}`).
   */
  readonly route: (
    method: HttpMethod,
    path: string,
    access: string | { readonly scope: string; readonly audit: string },
    ...handlers: RequestHandler[]
  ) => void;
  readonly routes: readonly DeclaredRoute[];
  readonly principalOf: (res: Response) => Principal;
}

const PRINCIPAL = "principal";

const who = (p: Principal): string =>
  `${p.method === "jwt" ? "the token of" : "the API key"} "${p.id}"${p.role === undefined ? "" : ` (role ${p.role})`}`;

/**
 * The HTTP chassis every Parley API is built on (docs/access-control.md): an Express app with
 * safe defaults, bearer authentication (API keys or JWTs), a scope check per declared route,
 * RFC 9457 problems for every refusal, and audit entries for sensitive routes.
 */
export function createApiChassis({
  api,
  realm,
  authenticator,
  now = () => Date.now(),
  onRefused = () => undefined,
  onAudit,
}: ApiChassisOptions): ApiChassis {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use((_req, res, next) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "no-store");
    next();
  });
  const REALM = `Bearer realm="${realm}"`;
  const routes: DeclaredRoute[] = [];

  const authenticate: RequestHandler = (req, res, next) => {
    if (res.locals[PRINCIPAL] !== undefined) {
      next();
      return;
    }
    authenticator.authenticate(req.headers.authorization, now()).then(
      (result) => {
        if (result.ok) {
          res.locals[PRINCIPAL] = result.principal;
          next();
          return;
        }
        onRefused(req, result.reason);
        const error =
          result.reason === "missing"
            ? ""
            : result.reason === "malformed"
              ? ', error="invalid_request"'
              : ', error="invalid_token"';
        res.setHeader("WWW-Authenticate", `${REALM}${error}`);
        sendProblem(res, apiProblems.unauthorized(result.detail));
      },
      (error: unknown) => {
        next(error);
      },
    );
  };

  const principalOf = (res: Response): Principal => res.locals[PRINCIPAL] as Principal;

  const checkScope =
    (scope: string): RequestHandler =>
    (req, res, next) => {
      const principal = principalOf(res);
      if (principal.scopes.has(scope)) {
        next();
        return;
      }
      onRefused(req, "scope");
      res.setHeader("WWW-Authenticate", `${REALM}, error="insufficient_scope", scope="${scope}"`);
      sendProblem(res, apiProblems.forbidden(scope, who(principal)));
    };

  const audited =
    (action: string, path: string): RequestHandler =>
    (req: Request, res: Response, next: NextFunction) => {
      res.once("finish", () => {
        if (res.statusCode >= 400 || onAudit === undefined) return;
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.params)) params[k] = String(v);
        onAudit({
          action,
          principal: principalOf(res),
          method: req.method,
          route: path,
          params,
          status: res.statusCode,
          at: new Date(now()),
        });
      });
      next();
    };

  const guard = (scope: string): RequestHandler => {
    const check = checkScope(scope);
    return (req, res, next) => {
      authenticate(req, res, (error?: unknown) => {
        if (error !== undefined) next(error);
        else check(req, res, next);
      });
    };
  };

  return {
    app,
    authenticate,
    guard,
    route(method, path, access, ...handlers) {
      const declared = typeof access === "string" ? { scope: access, audit: undefined } : access;
      const scope = qualify(api, declared.scope);
      const { audit } = declared;
      routes.push({ method, path, scope, ...(audit === undefined ? {} : { audit }) });
      const expressPath = path.replace(/\{(\w+)\}/g, ":$1");
      const chain = audit === undefined ? [guard(scope)] : [guard(scope), audited(audit, path)];
      app[method](expressPath, ...chain, ...handlers);
    },
    routes,
    principalOf,
  };
}
