import { retryOf } from "@parley/errors";
import type { Logger } from "@parley/telemetry";
import { sendProblem, type ApiChassis } from "@parley/runtime";
import type { RequestHandler, Response } from "express";
import { audienceParams, type AudienceQueries } from "../../audience/audience.js";
import { parseParams } from "../../queries/params.js";
import { problems } from "./problem.js";

export const AUDIENCE_PATH = "/v1/audience";

/** The audience route with every status it can answer (docs/projection-api.openapi.yaml). */
export const audienceApiRoute = {
  path: AUDIENCE_PATH,
  statuses: [200, 400, 401, 403, 404, 405, 429, 500, 503],
} as const;

/**
 * `GET /v1/audience` (docs/projection-api.md, "Audience"): the contacts matching a declared query,
 * in contact-id order, a page of scanned contacts at a time with a cursor. Scope `query:pii`: the
 * answer is unmasked phone numbers (a campaign sends to them), so it is held by the auditor and
 * admin roles and by keys given it (the campaigns service's own key). The same gates as every
 * query route run first (`admit`: rate and shutdown).
 */
export function registerAudienceRoute(
  api: ApiChassis,
  {
    audience,
    admit,
    logger,
    observe,
    onWork,
  }: {
    /** Absent: the route answers 503 (the service was started without it). */
    readonly audience: AudienceQueries | undefined;
    readonly admit: RequestHandler;
    readonly logger: Pick<Logger, "warn" | "error">;
    readonly observe: (outcome: string, res: Response) => void;
    readonly onWork: () => () => void;
  },
): void {
  api.route("get", AUDIENCE_PATH, "query:pii", admit, (req, res) => {
    const done = onWork();
    const finish = (outcome: string) => {
      observe(outcome, res);
      done();
    };
    const parsed = parseParams(audienceParams, req.query as Record<string, unknown>);
    if (!parsed.ok) {
      sendProblem(res, problems.invalidParameters(parsed.problems));
      finish("invalid");
      return;
    }
    if (audience === undefined) {
      sendProblem(res, problems.unavailable("the audience query is not configured here"));
      finish("unavailable");
      return;
    }
    audience.page(parsed.value).then(
      (page) => {
        if (page === undefined) {
          sendProblem(res, problems.notFound(`no generation ${String(parsed.value.generation)}`));
          finish("not_found");
          return;
        }
        res.status(200).json(page);
        finish("ok");
      },
      (error: unknown) => {
        if (retryOf(error) === "outage") {
          logger.warn(
            { err: error, route: AUDIENCE_PATH },
            "audience query: the read model is not answering; 503",
          );
          res.setHeader("Retry-After", "2");
          sendProblem(res, problems.unavailable("the read models are not answering; retry"));
          finish("unavailable");
        } else {
          logger.error({ err: error, route: AUDIENCE_PATH }, "audience query failed unexpectedly");
          sendProblem(res, problems.internal());
          finish("error");
        }
      },
    );
  });
  api.app.all(AUDIENCE_PATH, (_req, res) => {
    res.setHeader("Allow", "GET, HEAD");
    sendProblem(res, problems.methodNotAllowed());
  });
}
