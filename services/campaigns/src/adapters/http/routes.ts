import { errorMessage, retryOf } from "@parley/errors";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Scope } from "../../config.js";
import type { Campaigns } from "../../control/campaigns.js";
import { campaignDefinition } from "../../domain/campaign.js";
import { CampaignStateError } from "../../domain/lifecycle.js";
import { AudienceHeaderError } from "../../audience/read.js";
import { AudienceTooLargeError } from "../file/audience-files.js";
import { bearerToken, type Keyring, type Principal } from "./api-keys.js";

export interface CampaignsApiOptions {
  readonly campaigns: Campaigns;
  /** The plan report: skipped rows of a campaign after a row index, in row order. */
  readonly skips: (
    campaignId: string,
    page: { readonly after: number; readonly limit: number },
  ) => Promise<readonly { readonly index: number }[]>;
  readonly keyring: Keyring;
  readonly maxBodyBytes: number;
  readonly maxAudienceBytes: number;
  readonly logger?: { warn(obj: object, msg: string): void };
}

interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly errors?: readonly { readonly field: string; readonly detail: string }[];
}
const problem = (
  status: number,
  title: string,
  detail?: string,
  errors?: Problem["errors"],
): Problem => ({
  type: `urn:parley:problem:${title.toLowerCase().replace(/[^a-z]+/g, "-")}`,
  title,
  status,
  ...(detail === undefined ? {} : { detail }),
  ...(errors === undefined ? {} : { errors }),
});
const send = (res: Response, p: Problem) => {
  res.status(p.status).type("application/problem+json").json(p);
};
const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * The campaigns API (docs/campaigns-api.openapi.yaml): create a campaign, upload its audience
 * (streamed), start, pause, resume, cancel, progress and the plan report, each behind a bearer
 * key with a scope. Translation only: the lifecycle decider refuses what the state does not allow
 * (409), an outage is 503.
 */
export function createCampaignsApiApp(o: CampaignsApiOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use((req, res, next) => {
    const token = bearerToken(req.header("authorization"));
    const principal = token === undefined ? undefined : o.keyring.authenticate(token);
    if (principal === undefined) {
      res.setHeader("www-authenticate", 'Bearer realm="parley-campaigns"');
      send(
        res,
        problem(
          401,
          "Unauthorized",
          token === undefined ? "send Authorization: Bearer <key>" : "unknown key",
        ),
      );
      return;
    }
    res.locals["principal"] = principal;
    next();
  });
  const needs = (scope: Scope) => (_req: Request, res: Response, next: NextFunction) => {
    if ((res.locals["principal"] as Principal).scopes.has(scope)) next();
    else send(res, problem(403, "Insufficient scope", `this API key lacks the scope ${scope}`));
  };
  const idOf = (req: Request, res: Response): string | undefined => {
    const id = String(req.params["id"]);
    if (ID.test(id)) return id;
    send(
      res,
      problem(400, "Invalid request", "a campaign id is lowercase letters, digits and '-'"),
    );
    return undefined;
  };
  const fail = (res: Response, error: unknown) => {
    if (error instanceof CampaignStateError) send(res, problem(409, "Conflict", error.message));
    else if (error instanceof AudienceTooLargeError)
      send(res, problem(413, "Payload Too Large", error.message));
    else if (error instanceof AudienceHeaderError)
      send(res, problem(400, "Invalid request", error.message));
    else if (retryOf(error) === "outage")
      send(res, problem(503, "Service Unavailable", "a dependency is unavailable; retry"));
    else {
      o.logger?.warn({ err: errorMessage(error) }, "campaigns API: unexpected error");
      send(res, problem(500, "Internal Server Error"));
    }
  };
  const json = express.json({ limit: o.maxBodyBytes });

  app.post("/v1/campaigns", needs("write"), json, async (req, res) => {
    const parsed = campaignDefinition.safeParse(req.body);
    if (!parsed.success) {
      send(
        res,
        problem(
          400,
          "Invalid request",
          `${parsed.error.issues.length} fields refused`,
          parsed.error.issues.map((i) => ({
            field: i.path.join(".") || "(body)",
            detail: i.message,
          })),
        ),
      );
      return;
    }
    try {
      const state = await o.campaigns.create(parsed.data);
      res.status(201).json(state);
    } catch (error) {
      fail(res, error);
    }
  });

  app.put("/v1/campaigns/:id/audience", needs("write"), async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const format = req.query["format"];
    if (format !== "csv" && format !== "jsonl") {
      send(res, problem(400, "Invalid request", "format must be csv or jsonl"));
      return;
    }
    try {
      const state = await o.campaigns.attachAudience(id, format, req, o.maxAudienceBytes);
      res.status(200).json(state);
    } catch (error) {
      fail(res, error);
    }
  });

  for (const action of ["start", "pause", "resume", "cancel"] as const) {
    app.post(`/v1/campaigns/:id/${action}`, needs("control"), async (req, res) => {
      const id = idOf(req, res);
      if (id === undefined) return;
      try {
        if ((await o.campaigns.progress(id)) === undefined) {
          send(res, problem(404, "Not Found", `no campaign ${id}`));
          return;
        }
        res.json(await o.campaigns[action](id));
      } catch (error) {
        fail(res, error);
      }
    });
  }

  app.get("/v1/campaigns/:id", needs("read"), async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    try {
      const progress = await o.campaigns.progress(id);
      if (progress === undefined) send(res, problem(404, "Not Found", `no campaign ${id}`));
      else res.json(progress);
    } catch (error) {
      fail(res, error);
    }
  });

  app.get("/v1/campaigns/:id/skips", needs("read"), async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const after = Number(req.query["after"] ?? -1);
    const limit = Number(req.query["limit"] ?? 100);
    if (
      !Number.isInteger(after) ||
      after < -1 ||
      !Number.isInteger(limit) ||
      limit < 1 ||
      limit > 1000
    ) {
      send(
        res,
        problem(400, "Invalid request", "after is a row index (-1 for the start), limit 1 to 1000"),
      );
      return;
    }
    try {
      const items = await o.skips(id, { after, limit });
      res.json({ items, ...(items.length === limit ? { next: items.at(-1)?.index } : {}) });
    } catch (error) {
      fail(res, error);
    }
  });

  app.use((_req: Request, res: Response) => {
    send(res, problem(404, "Not Found", "no such route"));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown }).status;
    if (status === 413)
      send(res, problem(413, "Payload Too Large", `the body is over ${o.maxBodyBytes} bytes`));
    else if (status === 400) send(res, problem(400, "Invalid request", "the body is not JSON"));
    else fail(res, error);
  });
  return app;
}
