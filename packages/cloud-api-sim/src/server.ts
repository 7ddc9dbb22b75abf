import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ManualClock } from "./clock.js";
import { attachFastPath } from "./fast-http.js";
import type { ScriptedFault } from "./options.js";
import type { InboundContent, SimResponse, Simulator } from "./types.js";
import type { TemplateStatus } from "@parley/cloud-api";

export interface SimulatorServer {
  /** e.g. `http://127.0.0.1:4010`; point the Graph client's baseUrl here. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export interface ServeOptions {
  readonly port?: number;
  /** Loopback by default: the simulator is a test tool. */
  readonly host?: string;
  /** If set, the /_sim control API requires header `x-sim-control-token`. */
  readonly controlToken?: string;
  /** Largest accepted request body (media uploads up to 100 MB). */
  readonly maxBodyBytes?: number;
  /**
   * Answer plain Graph requests (HTTP/1.1, Content-Length bodies up to 1 MiB) with the lean
   * front in fast-http.ts instead of node:http, which costs several times the simulator's own
   * work per request. Everything else is served by node:http either way. Default true.
   */
  readonly fastPath?: boolean;
}

const EMPTY_BODY = Buffer.alloc(0);

/** Characters a Graph path may use that WHATWG URL parsing leaves exactly as they are. */
function plainPathChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || // 0-9
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    c === 0x2f || // /
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x2d || // -
    c === 0x7e // ~
  );
}

/**
 * Splits a request target into path and query. Plain targets (the Graph API's own) are split
 * without building a URL object; anything URL parsing could rewrite (dot segments, percent
 * escapes, other characters) goes through `new URL`, so the result is the same either way.
 */
export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const q = target.indexOf("?");
  const pathEnd = q === -1 ? target.length : q;
  // "//x/..." is a scheme-relative reference to URL parsing (host x), so it is not plain.
  let plain =
    target.charCodeAt(0) === 0x2f && target.charCodeAt(1) !== 0x2f && target.indexOf("#") === -1;
  for (let i = 1; plain && i < pathEnd; i++) {
    const c = target.charCodeAt(i);
    // "/." could start a dot segment, which URL parsing removes.
    if (!plainPathChar(c) || (c === 0x2e && target.charCodeAt(i - 1) === 0x2f)) plain = false;
  }
  for (let i = pathEnd + 1; plain && i < target.length; i++) {
    const c = target.charCodeAt(i);
    // URL parsing percent-encodes these in a query; URLSearchParams would then decode them back,
    // but leave the rare case to the full parser.
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x27 || c === 0x3c || c === 0x3e)
      plain = false;
  }
  if (plain) {
    return {
      path: target.slice(0, pathEnd),
      query: new URLSearchParams(q === -1 ? "" : target.slice(q + 1)),
    };
  }
  let url: URL;
  try {
    url = new URL(target, "http://sim");
  } catch {
    // Not a URL at all (e.g. "//bad host/"): keep the raw path, which no route matches.
    return { path: target.slice(0, pathEnd), query: new URLSearchParams() };
  }
  return { path: url.pathname, query: url.searchParams };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers = req.headers;
  // Node joins repeated headers into one string; only set-cookie stays an array.
  if (headers["set-cookie"] === undefined) return headers as Record<string, string | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** Writes an engine answer. A string body goes out with the headers in one socket write. */
function writeAnswer(res: ServerResponse, out: Extract<SimResponse, { kind: "answer" }>): void {
  const body = out.body;
  // A flat [name, value, ...] list: cheaper than spreading the engine's headers into a new object.
  const headers: (string | number)[] = [];
  for (const name of Object.keys(out.headers)) {
    // The server sets content-length itself, as the spread it replaces overrode the engine's.
    if (name !== "content-length") headers.push(name, out.headers[name] as string);
  }
  headers.push("content-length", typeof body === "string" ? Buffer.byteLength(body) : body.length);
  res.writeHead(out.status, headers);
  if (out.cutAfterBytes !== undefined) {
    // The body is cut: the announced length never arrives and the connection closes.
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    res.write(bytes.subarray(0, out.cutAfterBytes), () => {
      res.socket?.destroy();
    });
    return;
  }
  res.end(body);
}

/** The control and inspection API under /_sim (see README). */
function control(
  sim: Simulator,
  method: string,
  parts: readonly string[],
  query: URLSearchParams,
  body: unknown,
): [number, unknown] | Promise<[number, unknown]> {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const [a, id, c] = parts;
  const route = `${method} ${a ?? ""}${c !== undefined ? `/:id/${c}` : id !== undefined ? "/:id" : ""}`;
  switch (route) {
    case "GET health":
      return [200, { ok: true }];
    case "GET messages":
      return [
        200,
        sim.messages({
          ...(query.get("to") !== null ? { to: query.get("to") ?? "" } : {}),
          ...(query.get("phone_number_id") !== null
            ? { phoneNumberId: query.get("phone_number_id") ?? "" }
            : {}),
        }),
      ];
    case "GET users/:id/received":
      return [200, sim.received(id ?? "")];
    case "POST users":
      return [200, sim.addUser(b as { waId: string; name?: string; readReceipts?: boolean })];
    case "POST users/:id/messages": {
      const sent = sim.userSends(id ?? "", b["content"] as InboundContent, {
        ...(typeof b["phoneNumberId"] === "string" ? { phoneNumberId: b["phoneNumberId"] } : {}),
        ...(typeof b["replyTo"] === "string" ? { replyTo: b["replyTo"] } : {}),
      });
      return [200, sent];
    }
    case "POST templates":
      return [200, sim.addTemplate(b as unknown as Parameters<Simulator["addTemplate"]>[0])];
    case "POST templates/:id": // POST /_sim/templates/status
      sim.setTemplateStatus(
        String(b["name"]),
        String(b["language"]),
        b["status"] as TemplateStatus,
      );
      return [200, { ok: true }];
    case "POST numbers/:id/upgrade":
      sim.upgradeThroughput(
        id ?? "",
        typeof b["durationMs"] === "number" ? b["durationMs"] : undefined,
      );
      return [200, { ok: true }];
    case "POST faults": {
      const { script, endpoint, to, ...rest } = b;
      sim.setFaults(rest);
      if (Array.isArray(script)) {
        sim.scriptFaults(script as ScriptedFault[], {
          endpoint:
            (endpoint as "messages" | "media" | "templates" | "download" | undefined) ?? "any",
          ...(typeof to === "string" ? { to } : {}),
        });
      }
      return [200, { ok: true }];
    }
    case "POST media/:id/expire": // the media id runs out now (Graph then answers 100/33)
      sim.expireMedia(id ?? "");
      return [200, { ok: true }];
    case "POST media/:id/tamper": // the stored file changes; its announced sha256 does not
      sim.tamperMedia(id ?? "");
      return [200, { ok: true }];
    case "GET media/:id/stats":
      return [200, sim.mediaStats(id ?? "")];
    case "DELETE faults":
      sim.clearFaults();
      return [200, { ok: true }];
    case "POST statuses":
      sim.setStatusProfile(b);
      return [200, { ok: true }];
    case "POST tokens": {
      if (typeof b["token"] !== "string" || b["token"].length === 0)
        return [400, { error: 'body needs "token": a non-empty string' }];
      sim.grantAccessToken({
        token: b["token"],
        ...(typeof b["expiresAt"] === "number" ? { expiresAt: b["expiresAt"] } : {}),
        ...(Array.isArray(b["assets"]) ? { assets: b["assets"].map(String) } : {}),
        ...(Array.isArray(b["scopes"]) ? { scopes: b["scopes"].map(String) } : {}),
      });
      return [200, { ok: true }];
    }
    case "DELETE tokens/:id":
      sim.revokeAccessToken(id ?? "");
      return [200, { ok: true }];
    case "POST webhook-urls": {
      const urls = b["urls"];
      if (!Array.isArray(urls) || !urls.every((u) => typeof u === "string"))
        return [400, { error: 'body needs "urls": an array of URLs' }];
      const verifyToken = b["verifyToken"];
      if (verifyToken === undefined) {
        sim.setWebhookUrls(urls);
        return [200, { ok: true }];
      }
      if (typeof verifyToken !== "string" || verifyToken.length === 0)
        return [400, { error: '"verifyToken" must be a non-empty string' }];
      // As when the callback URL is saved in the App Dashboard: each URL is verified first
      // (GET hub.challenge); the new URLs replace the old ones only if all pass, else the old
      // ones stay.
      return Promise.all(urls.map((u) => sim.verifyWebhook(u, verifyToken))).then(
        (verifications): [number, unknown] => {
          const ok = verifications.every((v) => v.verified);
          if (ok) sim.setWebhookUrls(urls);
          return [ok ? 200 : 409, { ok, verifications }];
        },
      );
    }
    case "POST webhooks/:id": {
      // POST /_sim/webhooks/verify {url, verifyToken}: one handshake; the URL is added if verified.
      if (id !== "verify") break;
      const url = b["url"];
      const verifyToken = b["verifyToken"];
      if (typeof url !== "string" || typeof verifyToken !== "string" || verifyToken.length === 0)
        return [400, { error: 'body needs "url" and a non-empty "verifyToken"' }];
      return sim
        .registerWebhook(url, verifyToken)
        .then((v): [number, unknown] => [v.verified ? 200 : 409, v]);
    }
    case "GET webhooks/:id": // GET /_sim/webhooks/verifications
      if (id !== "verifications") break;
      return [200, sim.webhookVerifications()];
    case "GET rejections":
      return [200, sim.rejections()];
    case "GET webhooks":
      return [200, sim.webhookDeliveries()];
    case "GET stats":
      return [200, sim.stats()];
    case "POST stats/:id": // POST /_sim/stats/reset
      if (id !== "reset") break;
      sim.resetStats();
      return [200, { ok: true }];
    case "GET pacing": {
      const num = (k: string): number | undefined => {
        const v = query.get(k);
        if (v === null) return undefined;
        const n = Number(v);
        if (!(n > 0)) throw new RangeError(`${k} must be a positive number`);
        return n;
      };
      const burst = num("burst");
      const refillMs = num("refill_ms");
      const rule = query.get("rule");
      if (rule !== null && rule !== "borrow" && rule !== "bucket")
        throw new RangeError('rule must be "borrow" or "bucket"');
      return [
        200,
        sim.pairPacing({
          ...(query.get("to") !== null ? { to: query.get("to") ?? "" } : {}),
          ...(query.get("phone_number_id") !== null
            ? { phoneNumberId: query.get("phone_number_id") ?? "" }
            : {}),
          ...(burst !== undefined ? { burst } : {}),
          ...(refillMs !== undefined ? { refillMs } : {}),
          ...(rule !== null ? { rule } : {}),
        }),
      ];
    }
    case "GET reads":
      return [200, sim.markedRead()];
    case "POST clock/:id": {
      if (id !== "advance") break;
      const clock = sim.clock as Partial<ManualClock>;
      if (typeof clock.advance !== "function")
        return [
          400,
          { error: "the simulator runs on the system clock: start it with --manual-clock" },
        ];
      const ms = b["ms"];
      if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0)
        return [400, { error: 'body needs "ms": a non-negative number of milliseconds' }];
      clock.advance(ms);
      return [200, { now: sim.clock.now() }];
    }
    case "GET clock":
      return [200, { now: sim.clock.now(), manual: "advance" in sim.clock }];
    default:
      break;
  }
  return [404, { error: `no control route ${method} /_sim/${parts.join("/")}` }];
}

/** Serves the simulator over HTTP/1.1 with keep-alive. */
export async function serveSimulator(
  sim: Simulator,
  {
    port = 4010,
    host = "127.0.0.1",
    controlToken,
    maxBodyBytes = 110 * 1024 * 1024,
    fastPath = true,
  }: ServeOptions = {},
): Promise<SimulatorServer> {
  const hung = new Set<ReturnType<typeof setTimeout>>();

  /** A Graph request through the engine; an engine failure is a Graph-shaped 500, not a crash. */
  function graph(
    method: string,
    target: string,
    headers: Readonly<Record<string, string | undefined>>,
    body: Buffer,
  ): SimResponse {
    const { path, query } = splitTarget(target);
    try {
      return sim.handle({ method, path, query, headers, body });
    } catch (e) {
      // A defect of the simulator, never an answer Meta would give: Graph-shaped so a client
      // reads it, and said to be one. Wrongly typed requests never get here (send-shape.ts).
      return {
        kind: "answer",
        status: 500,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          error: {
            message: `(#1) simulator defect: ${e instanceof Error ? e.message : String(e)}`,
            type: "OAuthException",
            code: 1,
            error_data: { messaging_product: "whatsapp", details: "simulator defect" },
            fbtrace_id: "simulator-defect",
          },
        }),
        delayMs: 0,
      };
    }
  }

  function respond(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const target = req.url ?? "/";
    const { path, query } = splitTarget(target);
    if (path.startsWith("/_sim/")) {
      if (controlToken !== undefined && req.headers["x-sim-control-token"] !== controlToken) {
        json(res, 401, { error: "x-sim-control-token required" });
        return;
      }
      let parsed: unknown = undefined;
      try {
        parsed = body.length > 0 ? JSON.parse(body.toString("utf8")) : undefined;
      } catch {
        json(res, 400, { error: "body is not JSON" });
        return;
      }
      const refuse = (e: unknown): void => {
        json(res, 400, { error: e instanceof Error ? e.message : String(e) });
      };
      try {
        const out = control(
          sim,
          req.method ?? "GET",
          path.split("/").filter(Boolean).slice(1),
          query,
          parsed,
        );
        if (Array.isArray(out)) json(res, out[0], out[1]);
        else
          out.then(([status, value]) => {
            json(res, status, value);
          }, refuse);
      } catch (e) {
        refuse(e);
      }
      return;
    }
    const wait = sim.queueDelay();
    if (wait > 0) {
      // Queued at the front (the queueing fault): handled, and counted, only after the wait.
      const t = setTimeout(() => {
        hung.delete(t);
        if (!req.socket.destroyed) answerGraph(req, res, target, body);
      }, wait);
      hung.add(t);
      return;
    }
    answerGraph(req, res, target, body);
  }

  function answerGraph(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    body: Buffer,
  ): void {
    const out = graph(req.method ?? "GET", target, flatHeaders(req), body);
    if (out.kind === "hang") {
      const t = setTimeout(() => {
        hung.delete(t);
        req.socket.destroy();
      }, out.hangMs);
      hung.add(t);
      return;
    }
    if (out.delayMs > 0) {
      setTimeout(() => {
        writeAnswer(res, out);
      }, out.delayMs);
    } else {
      writeAnswer(res, out);
    }
  }

  // The hot path is synchronous: no promise, no URL object, one JSON parse (in the engine) and,
  // for the usual single-chunk body, no concatenation.
  const server = createServer((req, res) => {
    let first: Buffer | undefined;
    let rest: Buffer[] | undefined;
    let size = 0;
    req.on("data", (c: Buffer) => {
      if (size > maxBodyBytes) return; // already answered 413; the rest is discarded
      size += c.length;
      if (size > maxBodyBytes) {
        first = undefined;
        rest = undefined;
        res.once("finish", () => req.destroy());
        json(res, 413, { error: { message: "Request entity too large", code: 1 } });
        return;
      }
      if (first === undefined) first = c;
      else (rest ??= [first]).push(c);
    });
    req.on("end", () => {
      if (size > maxBodyBytes) return;
      respond(req, res, rest !== undefined ? Buffer.concat(rest) : (first ?? EMPTY_BODY));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const fast = fastPath
    ? attachFastPath(server, {
        // The control API and anything that could normalise into it stay on node:http.
        // Media downloads go to node:http, which can stream a large body and cut it (a fault).
        accepts: (_method, target) =>
          !target.includes("_sim") && !target.startsWith("/whatsapp_business/attachments"),
        handle: (r) => graph(r.method, r.target, r.headers, r.body),
        queueDelayMs: () => sim.queueDelay(),
        maxBodyBytes: Math.min(maxBodyBytes, 1024 * 1024),
        maxHeaderBytes: 16 * 1024,
        keepAliveTimeoutMs: server.keepAliveTimeout,
      })
    : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${actual}`;
  sim.setPublicBaseUrl(url);
  return {
    url,
    port: actual,
    server,
    async close() {
      for (const t of hung) clearTimeout(t);
      hung.clear();
      fast?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
