import { errorMessage, retryOf } from "@parley/errors";
import {
  createApiChassis,
  sendProblem as send,
  type ApiChassis,
  type AuditEntry,
  type Authenticator,
  type Problem,
} from "@parley/runtime";
import express, { type NextFunction, type Request, type Response } from "express";
import { NoRateCardError, type Campaigns } from "../../control/campaigns.js";
import { campaignDefinition } from "../../domain/campaign.js";
import { CampaignStateError } from "../../domain/lifecycle.js";
import { AudienceHeaderError } from "../../audience/read.js";
import { AudienceTooLargeError, NoProjectionError } from "../file/audience-files.js";
import { audienceQuery } from "../../audience/query.js";
import { Readable } from "node:stream";

export interface CampaignsApiOptions {
  readonly campaigns: Campaigns;
  /** The plan report: skipped rows of a campaign after a row index, in row order. */
  readonly skips: (
    campaignId: string,
    page: { readonly after: number; readonly limit: number },
  ) => Promise<readonly { readonly index: number }[]>;
  /** API keys and bearer JWTs (the chassis of @parley/runtime). */
  readonly authenticator: Authenticator;
  /** Campaign control (start, pause, resume, cancel) as it succeeds (AuditRecorded). */
  readonly onAudit?: (entry: AuditEntry) => void;
  readonly isStopping: () => boolean;
  readonly onWork: () => () => void;
  readonly maxBodyBytes: number;
  readonly maxAudienceBytes: number;
  readonly logger?: { warn(obj: object, msg: string): void };
}

type FieldErrors = readonly { readonly field: string; readonly detail: string }[];
const problem = (
  status: number,
  title: string,
  detail?: string,
  errors?: FieldErrors,
): Problem => ({
  type: `urn:parley:problem:${title.toLowerCase().replace(/[^a-z]+/g, "-")}`,
  title,
  status,
  ...(detail === undefined ? {} : { detail }),
  ...(errors === undefined ? {} : { errors }),
});
const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * A query audience's body (audience/query.ts): read up to `maxBytes`, validated, `at` pinned to
 * `now` when absent, answered as the bytes to store; or the problem (400 naming each refused
 * field, 413 over the size).
 */
async function queryBody(
  req: Request,
  maxBytes: number,
  now: Date,
): Promise<{ readonly bytes: Buffer } | { readonly problem: Problem }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      return {
        problem: problem(413, "Payload Too Large", `a query audience is at most ${maxBytes} bytes`),
      };
    }
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return {
      problem: problem(400, "Invalid request", "the query audience is not a JSON document"),
    };
  }
  const parsed = audienceQuery.safeParse(value);
  if (!parsed.success)
    return {
      problem: problem(
        400,
        "Invalid request",
        `${parsed.error.issues.length} fields refused`,
        parsed.error.issues.map((i) => ({
          field: i.path.join(".") || "(body)",
          detail: i.message,
        })),
      ),
    };
  const q = { ...parsed.data, at: parsed.data.at ?? now.toISOString() };
  return { bytes: Buffer.from(JSON.stringify(q), "utf8") };
}

/**
 * The campaigns API (docs/campaigns-api.openapi.yaml): create a campaign, upload its audience
 * (streamed), start, pause, resume, cancel, progress and the plan report, each behind a bearer
 * key with a scope. Translation only: the lifecycle decider refuses what the state does not allow
 * (409), an outage is 503.
 */
export function createCampaignsApiApp(o: CampaignsApiOptions): ApiChassis {
  const api = createApiChassis({
    api: "campaigns",
    realm: "parley-campaigns",
    authenticator: o.authenticator,
    ...(o.onAudit === undefined ? {} : { onAudit: o.onAudit }),
  });
  const { app } = api;
  app.set("query parser", "simple");
  app.use((_req, res, next) => {
    if (o.isStopping()) {
      res.setHeader("connection", "close");
      send(res, problem(503, "Service Unavailable", "the campaigns API is stopping"));
      return;
    }
    res.on("close", o.onWork());
    next();
  });
  // Every route needs a caller, so an unknown path answers 401 to a stranger, 404 to a caller.
  app.use(api.authenticate);
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
    if (
      error instanceof CampaignStateError ||
      error instanceof NoRateCardError ||
      error instanceof NoProjectionError
    )
      send(res, problem(409, "Conflict", error.message));
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

  api.route("post", "/v1/campaigns", "write", json, async (req, res) => {
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

  api.route("put", "/v1/campaigns/{id}/audience", "write", async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const format = req.query["format"];
    if (format !== "csv" && format !== "jsonl" && format !== "query") {
      send(res, problem(400, "Invalid request", "format must be csv, jsonl or query"));
      return;
    }
    try {
      if (format === "query") {
        const body = await queryBody(req, o.maxBodyBytes, new Date());
        if ("problem" in body) {
          send(res, body.problem);
          return;
        }
        const state = await o.campaigns.attachAudience(
          id,
          "query",
          Readable.from([body.bytes]),
          o.maxAudienceBytes,
        );
        res.status(200).json(state);
        return;
      }
      const state = await o.campaigns.attachAudience(id, format, req, o.maxAudienceBytes);
      res.status(200).json(state);
    } catch (error) {
      fail(res, error);
    }
  });

  const audits = {
    start: "campaign.started",
    pause: "campaign.paused",
    resume: "campaign.resumed",
    cancel: "campaign.cancelled",
  } as const;
  for (const action of ["start", "pause", "resume", "cancel"] as const) {
    const access = { scope: "control", audit: audits[action] };
    api.route("post", `/v1/campaigns/{id}/${action}`, access, async (req, res) => {
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

  api.route("get", "/v1/campaigns/{id}", "read", async (req, res) => {
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

  api.route("get", "/v1/campaigns/{id}/forecast", "read", async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    try {
      const forecast = await o.campaigns.forecast(id);
      if (forecast === undefined) send(res, problem(404, "Not Found", `no campaign ${id}`));
      else res.json(forecast);
    } catch (error) {
      fail(res, error);
    }
  });

  api.route("get", "/v1/campaigns/{id}/skips", "read", async (req, res) => {
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
  return api;
}
