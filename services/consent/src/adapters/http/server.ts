import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Component, ReadinessCheck } from "@parley/runtime";
import { createConsentApiApp, type ConsentApiOptions } from "./routes.js";

export interface ConsentApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The consent API's listener as a chassis component: bounded header time (an import or an
 * export may take long, so no request timeout), a readiness check, and a stop that answers new
 * requests with 503 and lets the ones at work finish.
 */
export async function startConsentApiServer(
  options: Omit<ConsentApiOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
  },
): Promise<ConsentApiServer> {
  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const app = createConsentApiApp({
    ...options,
    isStopping: () => stopping,
    onWork: () => {
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight--;
        if (inFlight === 0) drained?.();
      };
    },
  });
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 0 }, app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    name: "consent API server",
    port: (server.address() as AddressInfo).port,
    check: {
      name: "consent-api-server",
      check: () =>
        server.listening && !stopping
          ? Promise.resolve()
          : Promise.reject(new Error("the consent API listener is not accepting")),
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
