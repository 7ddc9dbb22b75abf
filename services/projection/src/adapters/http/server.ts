import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Component, ReadinessCheck } from "@parley/runtime";
import { createQueryApiApp, type QueryApiOptions } from "./routes.js";

export interface QueryApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The query API's listener as a chassis component: bounded header and request times, a
 * readiness check, and a stop that answers new requests with 503 and lets the ones at work finish.
 */
export async function startQueryApiServer(
  options: Omit<QueryApiOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
  },
): Promise<QueryApiServer> {
  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const app = createQueryApiApp({
    ...options,
    isStopping: () => stopping,
    onWork: () => {
      inFlight++;
      return () => {
        inFlight--;
        if (inFlight === 0) drained?.();
      };
    },
  });
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    name: "query API server",
    port: (server.address() as AddressInfo).port,
    check: {
      name: "query-api-server",
      check: () =>
        server.listening && !stopping
          ? Promise.resolve()
          : Promise.reject(new Error("the query API listener is not accepting")),
    },
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      server.closeIdleConnections();
      await closed;
    },
  };
}
