import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { errorMessage, retryOf } from "@parley/errors";
import {
  createApiChassis,
  sendProblem as send,
  type ApiChassis,
  type AuditEntry,
  type Authenticator,
} from "@parley/runtime";
import express, { type NextFunction, type Request, type Response } from "express";
import { ConsentRefusedError } from "../../ledger/decide.js";
import { EvidenceNotKeptError, type ConsentLedger, type OpenedEntry } from "../../ledger/ledger.js";
import { commandOf, contactOf, fieldErrors, recordBody } from "./bodies.js";
import { csvHeader, csvLineOf } from "./csv.js";
import { importRows } from "./import.js";
import { problems } from "./problem.js";

export interface ConsentApiOptions {
  readonly ledger: ConsentLedger;
  /** API keys and bearer JWTs (the chassis of @parley/runtime). */
  readonly authenticator: Authenticator;
  /** Consent changes, imports, erasures and exports as they succeed (AuditRecorded). */
  readonly onAudit?: (entry: AuditEntry) => void;
  readonly clock: () => Date;
  readonly maxBodyBytes: number;
  /** Import batches of 500 rows decided at once (CONSENT_IMPORT_BATCHES_IN_FLIGHT). */
  readonly importBatchesInFlight?: number;
  readonly isStopping: () => boolean;
  readonly onWork: () => () => void;
  readonly logger?: { warn(obj: object, msg: string): void };
  readonly observe?: (route: string, status: number) => void;
}

/** Writes a chunk, waiting while the client reads slower than we write. */
async function write(res: Response, chunk: string): Promise<void> {
  if (!res.write(chunk)) await once(res, "drain");
}

/**
 * The consent API (docs/consent-api.openapi.yaml): record an opt-in or opt-out with evidence,
 * current state, history, audit export (JSON lines or CSV), bulk import and erasure, each behind
 * a bearer key with a scope. Translation only: bodies are validated here, the ledger decides, and
 * its errors become problem details (erased: 409, an outage: 503).
 */
export function createConsentApiApp(options: ConsentApiOptions): ApiChassis {
  const { ledger, authenticator, clock, maxBodyBytes, isStopping, onWork, logger, observe } =
    options;
  const api = createApiChassis({
    api: "consent",
    realm: "parley-consent",
    authenticator,
    ...(options.onAudit === undefined ? {} : { onAudit: options.onAudit }),
  });
  const { app, principalOf } = api;

  app.use((req, res, next) => {
    if (isStopping()) {
      res.setHeader("connection", "close");
      send(res, problems.unavailable("the consent API is stopping"));
      return;
    }
    const done = onWork();
    res.on("close", done);
    res.on("finish", () =>
      observe?.(
        req.route ? String((req.route as { path: unknown }).path) : "unmatched",
        res.statusCode,
      ),
    );
    next();
  });
  // Every route needs a caller, so an unknown path answers 401 to a stranger, 404 to a caller.
  app.use(api.authenticate);

  /** The path's contact, or a 400 sent. */
  const contactParam = (req: Request, res: Response): string | undefined => {
    const parsed = contactOf(String(req.params["contactId"]));
    if (parsed.ok) return parsed.contactId;
    send(res, problems.invalid([{ field: "contactId", detail: parsed.detail }]));
    return undefined;
  };

  const json = express.json({ limit: maxBodyBytes, strict: true, type: () => true });

  api.route(
    "post",
    "/v1/contacts/{contactId}/consent",
    { scope: "consent:write", audit: "consent.recorded" },
    json,
    async (req, res) => {
      const contactId = contactParam(req, res);
      if (contactId === undefined) return;
      const parsed = recordBody.safeParse(req.body);
      if (!parsed.success) {
        send(res, problems.invalid(fieldErrors(parsed.error)));
        return;
      }
      const command = commandOf(parsed.data, {
        now: clock(),
        recordedBy: principalOf(res).id,
        source: "api",
        inputId: `api:${randomUUID()}`,
      });
      if (Array.isArray(command)) {
        send(res, problems.invalid(command));
        return;
      }
      await ledger.handle([{ key: contactId, command }]);
      const entries = (await ledger.entriesOf(contactId, command)).map((e) => ({
        eventId: e.eventId,
        type: e.type,
        sequence: e.data.ledger?.sequence,
        hash: e.data.ledger?.hash,
        ...("purpose" in e.data ? { purpose: e.data.purpose, reason: e.data.reason } : {}),
      }));
      res.status(201).json({
        contactId,
        inputId: command.inputId,
        entries,
        state: await ledger.view(contactId),
      });
    },
  );

  api.route("get", "/v1/contacts/{contactId}/consent", "consent:read", async (req, res) => {
    const contactId = contactParam(req, res);
    if (contactId === undefined) return;
    res.json(await ledger.view(contactId));
  });

  api.route("get", "/v1/contacts/{contactId}/consent/history", "consent:read", async (req, res) => {
    const contactId = contactParam(req, res);
    if (contactId === undefined) return;
    const history = await ledger.history(contactId);
    if (history === undefined) {
      send(res, problems.notFound("no ledger entry for this contact"));
      return;
    }
    const withEvidence = principalOf(res).scopes.has("consent:evidence");
    // Streamed a page of entries at a time: a long ledger is never whole in memory.
    res.status(200).type("application/json");
    await write(res, `{"contactId":${JSON.stringify(contactId)},"entries":[`);
    let first = true;
    for await (const e of history) {
      await write(
        res,
        `${first ? "" : ","}${JSON.stringify(withEvidence ? e : { entry: e.entry })}`,
      );
      first = false;
    }
    res.end("]}");
  });

  api.route("get", "/v1/contacts/{contactId}/sends", "consent:read", async (req, res) => {
    const contactId = contactParam(req, res);
    if (contactId === undefined) return;
    res.json({ contactId, sends: await ledger.sendsOf(contactId) });
  });

  api.route(
    "post",
    "/v1/contacts/{contactId}/erasure",
    { scope: "consent:erase", audit: "consent.erased" },
    json,
    async (req, res) => {
      const contactId = contactParam(req, res);
      if (contactId === undefined) return;
      const body: unknown = req.body;
      const requestId =
        typeof body === "object" &&
        body !== null &&
        "requestId" in body &&
        typeof body.requestId === "string" &&
        /^[A-Za-z0-9._:-]{1,200}$/u.test(body.requestId)
          ? body.requestId
          : `erase:${randomUUID()}`;
      res.json(await ledger.erase(contactId, principalOf(res).id, requestId));
    },
  );

  api.route(
    "get",
    "/v1/export",
    { scope: "consent:export", audit: "consent.exported" },
    async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const errors: { field: string; detail: string }[] = [];
      const asked = q["format"] ?? "jsonl";
      const format = asked === "csv" ? "csv" : "jsonl";
      if (asked !== "jsonl" && asked !== "csv")
        errors.push({ field: "format", detail: "jsonl or csv" });
      const dateOf = (name: string) => {
        const v = q[name];
        if (v === undefined) return undefined;
        const d = typeof v === "string" ? new Date(v) : new Date(Number.NaN);
        if (Number.isNaN(d.getTime())) errors.push({ field: name, detail: "an ISO 8601 instant" });
        return d;
      };
      const from = dateOf("from");
      const to = dateOf("to");
      let contactId: string | undefined;
      if (q["contactId"] !== undefined) {
        const parsed =
          typeof q["contactId"] === "string"
            ? contactOf(q["contactId"])
            : ({ ok: false, detail: "once, as text" } as const);
        if (parsed.ok) contactId = parsed.contactId;
        else errors.push({ field: "contactId", detail: parsed.detail });
      }
      if (errors.length > 0) {
        send(res, problems.invalid(errors));
        return;
      }
      const withEvidence = principalOf(res).scopes.has("consent:evidence");
      res.status(200).type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson");
      res.setHeader("content-disposition", `attachment; filename="consent-export.${format}"`);
      if (format === "csv") await write(res, csvHeader);
      for await (const line of ledger.export({ contactId, from, to })) {
        const shown: OpenedEntry = withEvidence ? line : { entry: line.entry };
        await write(res, format === "csv" ? csvLineOf(shown) : `${JSON.stringify(shown)}\n`);
      }
      res.end();
    },
  );

  api.route(
    "post",
    "/v1/imports",
    { scope: "consent:write", audit: "consent.imported" },
    async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const format =
        q["format"] ?? (String(req.header("content-type")).includes("csv") ? "csv" : "jsonl");
      if (format !== "jsonl" && format !== "csv") {
        send(res, problems.invalid([{ field: "format", detail: "jsonl or csv" }]));
        return;
      }
      res.status(200).type("application/x-ndjson");
      for await (const line of importRows({
        body: req,
        format,
        ledger,
        clock,
        recordedBy: principalOf(res).id,
        importId: `import:${randomUUID()}`,
        ...(options.importBatchesInFlight === undefined
          ? {}
          : { batchesInFlight: options.importBatchesInFlight }),
      })) {
        await write(res, `${JSON.stringify(line)}\n`);
      }
      res.end();
    },
  );

  app.use((_req: Request, res: Response) => {
    send(res, problems.notFound("no such route (docs/consent-api.openapi.yaml)"));
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = error as { type?: unknown; status?: unknown };
    if (res.headersSent) {
      logger?.warn({ err: errorMessage(error) }, "consent API: a streamed answer failed midway");
      res.destroy();
      return;
    }
    if (e.type === "entity.too.large") {
      send(res, problems.tooLarge(maxBodyBytes));
      return;
    }
    if (
      e.type === "entity.parse.failed" ||
      e.type === "encoding.unsupported" ||
      e.type === "charset.unsupported"
    ) {
      send(res, problems.invalid([{ field: "(body)", detail: "not JSON in UTF-8" }]));
      return;
    }
    if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
      send(res, problems.invalid([{ field: "(body)", detail: errorMessage(error) }]));
      return;
    }
    if (error instanceof EvidenceNotKeptError) {
      send(res, problems.unavailable(error.message));
      return;
    }
    if (error instanceof ConsentRefusedError) {
      send(res, problems.erased(error.message));
      return;
    }
    if (retryOf(error) === "outage") {
      send(res, problems.unavailable("a dependency is unavailable; retry later"));
      return;
    }
    logger?.warn({ err: errorMessage(error) }, "consent API: request failed");
    send(res, problems.internal());
  });

  return api;
}
