import { pipeline } from "node:stream/promises";
import { retryOf } from "@parley/errors";
import {
  createApiChassis,
  type ApiChassis,
  type AuditEntry,
  type Authenticator,
} from "@parley/runtime";
import type { NextFunction, Request, Response } from "express";
import { UnknownKeyError } from "../../crypto/keyring.js";
import type { MediaState } from "../../domain/media-object.js";
import { MediaNotFoundError, UploadRefusedError, type MediaObjects } from "../../media/objects.js";
import type { MediaQueries } from "../../media/ports.js";
import { GraphUploadRefusedError, type ResolveGraphId } from "../../outbound/graph-ids.js";
import { parseRange } from "./range.js";

export interface MediaApiOptions {
  readonly objects: MediaObjects;
  readonly queries: MediaQueries;
  /** API keys and bearer JWTs (the chassis of @parley/runtime). */
  readonly authenticator: Authenticator;
  /** Deletions and erasures as they succeed (AuditRecorded). */
  readonly onAudit?: (entry: AuditEntry) => void;
  readonly maxBytes: number;
  /** Resolves a stored object to a Graph media id for a number (absent: the route answers 404). */
  readonly resolveGraphId?: ResolveGraphId;
  readonly clock?: () => Date;
  readonly onError?: (error: unknown) => void;
  readonly isStopping?: () => boolean;
}

const PROBLEM = "application/problem+json";

function problem(res: Response, status: number, type: string, title: string, detail: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res
    .status(status)
    .type(PROBLEM)
    .json({ type: `urn:parley:problem:${type}`, title, status, detail });
}

/** The record's public face: no wrapped key, no storage secrets. */
export function metadataOf(state: MediaState) {
  const o = state.object;
  const a = state.announcement;
  return {
    id: state.mediaId,
    status: state.status,
    origin: state.origin,
    mimeType: o?.mimeType,
    ...(o?.detectedMimeType === undefined ? {} : { detectedMimeType: o.detectedMimeType }),
    sizeBytes: o?.sizeBytes,
    sha256: o?.sha256Hex,
    keyId: o?.keyId,
    ...(o?.filename === undefined ? {} : { filename: o.filename }),
    storedAt: state.storedAt,
    ...(state.retentionEndsAt === undefined ? {} : { retentionEndsAt: state.retentionEndsAt }),
    ...(a === undefined ? {} : { kind: a.kind, wamid: a.wamid, businessNumber: a.businessNumber }),
    ...(state.owner === undefined ? {} : { owner: state.owner }),
  };
}

const MEDIA_ID = /^[0-9A-Za-z_-]{1,128}$/;
const CONTACT_ID = /^[0-9A-Za-z.]{1,64}$/;

/**
 * The media API (docs/media-api.md, docs/media-api.openapi.yaml): API keys with scopes, uploads
 * checked against Meta's limits, decrypting downloads with one byte range, metadata, deletion and
 * a contact's erasure. Every download is audited (who, when, which object, which range) before a
 * byte is sent. Domain errors become RFC 9457 problem details here.
 */
export function createMediaApiApp({
  objects,
  queries,
  authenticator,
  onAudit,
  maxBytes,
  resolveGraphId,
  clock = () => new Date(),
  onError,
  isStopping = () => false,
}: MediaApiOptions): ApiChassis {
  const api = createApiChassis({
    api: "media",
    realm: "parley-media",
    authenticator,
    ...(onAudit === undefined ? {} : { onAudit }),
  });
  const { app } = api;

  app.use((_req, res, next) => {
    if (isStopping()) {
      problem(res, 503, "unavailable", "Service Unavailable", "shutting down");
      return;
    }
    next();
  });
  // Every route needs a caller, so an unknown path answers 401 to a stranger, 404 to a caller.
  app.use(api.authenticate);
  const who = (res: Response): string => api.principalOf(res).id;
  const idOf = (req: Request, res: Response): string | undefined => {
    const id = String(req.params["id"] ?? "");
    if (MEDIA_ID.test(id)) return id;
    problem(res, 404, "not-found", "Not Found", "no such media");
    return undefined;
  };

  api.route("post", "/v1/media", "media:write", async (req, res) => {
    const lengthHeader = req.get("content-length");
    if (lengthHeader === undefined || !/^\d{1,12}$/.test(lengthHeader)) {
      problem(
        res,
        411,
        "length-required",
        "Length Required",
        "send Content-Length (no chunked uploads)",
      );
      return;
    }
    const length = Number(lengthHeader);
    if (length > maxBytes) {
      problem(res, 413, "too-large", "Content Too Large", `at most ${String(maxBytes)} bytes`);
      req.resume();
      return;
    }
    const mimeType = req.get("content-type") ?? "";
    const filename = req.get("x-filename");
    const businessNumber =
      typeof req.query["phoneNumberId"] === "string" ? req.query["phoneNumberId"] : undefined;
    if (businessNumber !== undefined && !/^\d{1,32}$/.test(businessNumber)) {
      problem(res, 400, "invalid-parameter", "Invalid parameter", "phoneNumberId must be digits");
      return;
    }
    const uploaded = await objects.upload({
      body: req,
      mimeType,
      length,
      owner: who(res),
      ...(filename === undefined
        ? {}
        : { filename: filename.replace(/[^\w.() -]/g, "_").slice(0, 240) }),
      ...(businessNumber === undefined ? {} : { businessNumber }),
    });
    res.status(201).location(`/v1/media/${uploaded.id}`).json(uploaded);
  });

  api.route("get", "/v1/media/{id}", "media:read", async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    res.json(metadataOf(await objects.metadata(id)));
  });

  api.route("get", "/v1/media/{id}/content", "media:read", async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const state = await objects.metadata(id);
    const size = state.object?.sizeBytes ?? 0;
    const range = parseRange(req.get("range"), size);
    if (range === "unsatisfiable") {
      res.set("content-range", `bytes */${String(size)}`);
      problem(
        res,
        416,
        "range-not-satisfiable",
        "Range Not Satisfiable",
        "one range within the object",
      );
      return;
    }
    const rangeHeader = req.get("range");
    await queries.audit({
      mediaId: id,
      principal: who(res),
      at: clock(),
      ...(range === "none" || rangeHeader === undefined
        ? {}
        : { range: rangeHeader.slice(0, 100) }),
      ...(req.socket.remoteAddress === undefined ? {} : { remote: req.socket.remoteAddress }),
    });
    const opened = await objects.open(id, range === "none" ? undefined : range);
    res.set("accept-ranges", "bytes");
    res.set("content-type", state.object?.mimeType ?? "application/octet-stream");
    res.set("x-content-type-options", "nosniff");
    res.set("content-disposition", "attachment");
    res.set("cache-control", "private, no-store");
    if (range === "none") {
      res.status(200).set("content-length", String(size));
    } else {
      res
        .status(206)
        .set("content-range", `bytes ${String(range.start)}-${String(range.end)}/${String(size)}`)
        .set("content-length", String(range.end - range.start + 1));
    }
    await pipeline(opened.body, res).catch((error: unknown) => {
      onError?.(error);
      res.destroy();
    });
  });

  // The sender's call before it sends a message naming a Parley media id (ADR 0013, "Outbound").
  api.route("post", "/v1/media/{id}/graph-ids/{phoneNumberId}", "media:send", async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    const phoneNumberId = String(req.params["phoneNumberId"] ?? "");
    if (!/^\d{1,32}$/.test(phoneNumberId)) {
      problem(res, 400, "invalid-parameter", "Invalid parameter", "phoneNumberId must be digits");
      return;
    }
    if (resolveGraphId === undefined) {
      problem(res, 404, "not-found", "Not Found", "no business numbers configured");
      return;
    }
    const resolved = await resolveGraphId(id, phoneNumberId);
    res.json({
      graphMediaId: resolved.graphMediaId,
      phoneNumberId,
      uploadedAt: resolved.uploadedAt.toISOString(),
      reused: resolved.reused,
    });
  });

  api.route("get", "/v1/media/{id}/downloads", "media:read", async (req, res) => {
    const id = idOf(req, res);
    if (id === undefined) return;
    res.json({ data: await queries.downloads(id, 100) });
  });

  api.route(
    "delete",
    "/v1/media/{id}",
    { scope: "media:delete", audit: "media.deleted" },
    async (req, res) => {
      const id = idOf(req, res);
      if (id === undefined) return;
      const done = await objects.remove(id, "api", `api:${who(res)}`);
      if (!done) {
        problem(res, 404, "not-found", "Not Found", "no stored media under that id");
        return;
      }
      res.status(204).end();
    },
  );

  api.route(
    "delete",
    "/v1/contacts/{contactId}/media",
    { scope: "media:erase", audit: "media.erased" },
    async (req, res) => {
      const contactId = String(req.params["contactId"] ?? "");
      if (!CONTACT_ID.test(contactId)) {
        problem(
          res,
          400,
          "invalid-parameter",
          "Invalid parameter",
          "contactId is a wa_id or BSUID",
        );
        return;
      }
      res.json({ deleted: await objects.erase(contactId) });
    },
  );

  app.use((_req: Request, res: Response) => {
    problem(res, 404, "not-found", "Not Found", "no such route");
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof MediaNotFoundError) {
      problem(res, 404, "not-found", "Not Found", "no stored media under that id");
      return;
    }
    if (error instanceof UploadRefusedError) {
      problem(
        res,
        error.reason === "too_large" ? 413 : error.reason === "unsupported_type" ? 415 : 422,
        error.reason.replace("_", "-"),
        "Upload refused",
        error.message,
      );
      return;
    }
    if (error instanceof GraphUploadRefusedError) {
      problem(res, 422, "graph-refused", "Graph refused the upload", error.message);
      return;
    }
    if (error instanceof UnknownKeyError) {
      onError?.(error);
      problem(res, 500, "key-not-configured", "Key not configured", error.message);
      return;
    }
    onError?.(error);
    if (retryOf(error) === "outage") {
      res.set("retry-after", "5");
      problem(
        res,
        503,
        "unavailable",
        "Service Unavailable",
        "storage or database unavailable; retry",
      );
      return;
    }
    problem(res, 500, "internal", "Internal Server Error", "see the service log");
  });
  return api;
}
