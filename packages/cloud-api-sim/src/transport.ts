import { bufferBody, type HttpTransport } from "@parley/cloud-api";
import type { Simulator } from "./simulator.js";

/**
 * An HttpTransport that calls the simulator in-process: the real client code path minus the
 * socket. Hung requests fail at once as a headers timeout (what undici reports); latency and
 * queueing are skipped.
 */
export function createInProcessTransport(sim: Simulator): HttpTransport {
  return {
    request(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
      const res = sim.handle({
        method: req.method,
        path: url.pathname,
        query: url.searchParams,
        headers,
        body,
      });
      if (res.kind === "hang") {
        return Promise.reject(
          Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" }),
        );
      }
      return Promise.resolve({
        status: res.status,
        headers: { ...res.headers },
        body: bufferBody(res.body),
      });
    },
    close: () => Promise.resolve(),
  };
}
