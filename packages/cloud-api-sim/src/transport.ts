import { Readable } from "node:stream";
import { bufferBody, type HttpTransport } from "@parley/cloud-api";
import type { Simulator } from "./simulator.js";

/**
 * An HttpTransport that calls the simulator in-process: the real client code path minus the
 * socket. Hung requests fail at once as a headers timeout (what undici reports); latency and
 * queueing are skipped.
 */
export function createInProcessTransport(sim: Simulator): HttpTransport {
  return {
    async request(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      const body =
        req.body === undefined
          ? Buffer.alloc(0)
          : req.body instanceof Readable
            ? await collect(req.body)
            : Buffer.from(req.body);
      const res = sim.handle({
        method: req.method,
        path: url.pathname,
        query: url.searchParams,
        headers,
        body,
      });
      if (res.kind === "hang") {
        throw Object.assign(new Error("Headers Timeout Error"), {
          code: "UND_ERR_HEADERS_TIMEOUT",
        });
      }
      const cut = res.cutAfterBytes;
      return {
        status: res.status,
        headers: { ...res.headers },
        body:
          cut === undefined
            ? bufferBody(res.body)
            : cutBody(Buffer.from(res.body).subarray(0, cut)),
      };
    },
    close: () => Promise.resolve(),
  };
}

/** A streamed request body, whole (the simulator parses bodies whole, as Meta's server may). */
async function collect(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** A body that yields `bytes` and then fails as a closed connection does. */
function cutBody(bytes: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) {
        this.destroy(Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }));
        return;
      }
      sent = true;
      this.push(bytes);
    },
  });
}
