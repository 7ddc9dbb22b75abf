import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ManualClock } from "./clock.js";
import type { ScriptedFault } from "./options.js";
import type { InboundContent, Simulator } from "./simulator.js";
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
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new BodyTooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
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
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** The control and inspection API under /_sim (see README). */
function control(
  sim: Simulator,
  method: string,
  parts: readonly string[],
  query: URLSearchParams,
  body: unknown,
): [number, unknown] {
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
      const { script, endpoint, ...rest } = b;
      sim.setFaults(rest);
      if (Array.isArray(script)) {
        sim.scriptFaults(script as ScriptedFault[], {
          endpoint: (endpoint as "messages" | "media" | "templates" | undefined) ?? "any",
        });
      }
      return [200, { ok: true }];
    }
    case "DELETE faults":
      sim.clearFaults();
      return [200, { ok: true }];
    case "POST statuses":
      sim.setStatusProfile(b);
      return [200, { ok: true }];
    case "POST webhook-urls":
      sim.setWebhookUrls((b["urls"] as string[] | undefined) ?? []);
      return [200, { ok: true }];
    case "GET rejections":
      return [200, sim.rejections()];
    case "GET webhooks":
      return [200, sim.webhookDeliveries()];
    case "GET stats":
      return [200, sim.stats()];
    case "GET reads":
      return [200, sim.markedRead()];
    case "POST clock/:id": {
      const clock = sim.clock as Partial<ManualClock>;
      if (id !== "advance" || typeof clock.advance !== "function")
        return [400, { error: "the simulator runs on the system clock" }];
      clock.advance(Number(b["ms"] ?? 0));
      return [200, { now: sim.clock.now() }];
    }
    default:
      return [404, { error: `no control route ${method} /_sim/${parts.join("/")}` }];
  }
}

/** Serves the simulator over HTTP/1.1 with keep-alive. */
export async function serveSimulator(
  sim: Simulator,
  {
    port = 4010,
    host = "127.0.0.1",
    controlToken,
    maxBodyBytes = 110 * 1024 * 1024,
  }: ServeOptions = {},
): Promise<SimulatorServer> {
  const hung = new Set<ReturnType<typeof setTimeout>>();
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://sim");
      let body: Buffer;
      try {
        body = await readBody(req, maxBodyBytes);
      } catch (e) {
        if (e instanceof BodyTooLarge)
          json(res, 413, { error: { message: "Request entity too large", code: 1 } });
        return;
      }
      if (url.pathname.startsWith("/_sim/")) {
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
        try {
          const [status, out] = control(
            sim,
            req.method ?? "GET",
            url.pathname.split("/").filter(Boolean).slice(1),
            url.searchParams,
            parsed,
          );
          json(res, status, out);
        } catch (e) {
          json(res, 400, { error: e instanceof Error ? e.message : String(e) });
        }
        return;
      }
      const out = sim.handle({
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: flatHeaders(req),
        body,
      });
      if (out.kind === "hang") {
        const t = setTimeout(() => {
          hung.delete(t);
          req.socket.destroy();
        }, out.hangMs);
        hung.add(t);
        return;
      }
      const write = (): void => {
        const payload = typeof out.body === "string" ? Buffer.from(out.body) : out.body;
        res.writeHead(out.status, { ...out.headers, "content-length": payload.length });
        res.end(payload);
      };
      if (out.delayMs > 0) setTimeout(write, out.delayMs);
      else write();
    })();
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
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
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
