import { retryOf } from "@parley/errors";
import type { Logger } from "@parley/telemetry";
import { sendProblem, type ApiChassis } from "@parley/runtime";
import type { RequestHandler, Response } from "express";
import { auditListParams } from "../../audit/params.js";
import type { AuditQueries } from "../../audit/queries.js";
import { parseParams } from "../../queries/params.js";
import { UnknownGenerationError } from "../../queries/queries.js";
import { problems } from "./problem.js";

export const AUDIT_PATH = "/v1/audit";

/** The audit route with every status it can answer (docs/projection-api.openapi.yaml). */
export const auditApiRoute = {
  path: AUDIT_PATH,
  statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503],
} as const;

/**
 * `GET /v1/audit` (docs/access-control.md, "Audit"): the audit log, filtered by actor, action
 * (or an area's actions), service, target (a resource or subject id) and time range, newest
 * first with cursor pagination. Scope `audit:read` (auditor and admin); phone numbers in targets
 * are masked without `query:pii`. The same gates as every query route run first (`admit`: rate
 * and shutdown).
 */
export function registerAuditRoute(
  api: ApiChassis,
  {
    audit,
    admit,
    logger,
    observe,
    onWork,
  }: {
    /** Absent: the route answers 503 (the service was started without the audit read model). */
    readonly audit: AuditQueries | undefined;
    readonly admit: RequestHandler;
    readonly logger: Pick<Logger, "warn" | "error">;
    readonly observe: (outcome: string, res: Response) => void;
    readonly onWork: () => () => void;
  },
): void {
  api.route("get", AUDIT_PATH, "audit:read", admit, (req, res) => {
    const done = onWork();
    const finish = (outcome: string) => {
      observe(outcome, res);
      done();
    };
    const parsed = parseParams(auditListParams, req.query as Record<string, unknown>);
    if (!parsed.ok) {
      sendProblem(res, problems.invalidParameters(parsed.problems));
      finish("invalid");
      return;
    }
    if (audit === undefined) {
      sendProblem(res, problems.unavailable("the audit read model is not configured here"));
      finish("unavailable");
      return;
    }
    const pii = api.principalOf(res).scopes.has("query:pii");
    audit.list(parsed.value, { pii }).then(
      (page) => {
        res.status(200).json(page);
        finish("ok");
      },
      (error: unknown) => {
        if (error instanceof UnknownGenerationError) {
          sendProblem(res, problems.notFound(`no generation ${String(error.generation)}`));
          finish("not_found");
        } else if (retryOf(error) === "outage") {
          logger.warn(
            { err: error, route: AUDIT_PATH },
            "audit query: the read model is not answering; 503",
          );
          res.setHeader("Retry-After", "2");
          sendProblem(res, problems.unavailable("the read models are not answering; retry"));
          finish("unavailable");
        } else {
          logger.error({ err: error, route: AUDIT_PATH }, "audit query failed unexpectedly");
          sendProblem(res, problems.internal());
          finish("error");
        }
      },
    );
  });
  api.app.all(AUDIT_PATH, (_req, res) => {
    res.setHeader("Allow", "GET, HEAD");
    sendProblem(res, problems.methodNotAllowed());
  });
}
