import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ReadinessCheck } from "@parley/runtime";

/** What an app needs from its listener to refuse new work while stopping and to be waited for. */
export interface WorkHooks {
  readonly isStopping: () => boolean;
  /** Marks one piece of work (an append, a publish) begun; call the result when it settles. */
  readonly begin: () => () => void;
}

export interface DrainingListener {
  readonly port: number;
  readonly check: ReadinessCheck;
  /** Stops accepting, waits for the work in flight (each piece bounded by its own timeout), closes. */
  stop(): Promise<void>;
}

/**
 * An HTTP listener for ingress's two surfaces (webhook, send API): bounded header and request
 * times (a slow client cannot hold a connection), a readiness check, and a stop that lets the
 * work already begun settle before the producer behind it is stopped.
 */
export async function startDrainingListener(options: {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly checkName: string;
  /** Named in the readiness failure, e.g. "the webhook listener". */
  readonly description: string;
  readonly app: (hooks: WorkHooks) => RequestListener;
}): Promise<DrainingListener> {
  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const hooks: WorkHooks = {
    isStopping: () => stopping,
    begin: () => {
      inFlight++;
      return () => {
        inFlight--;
        if (inFlight === 0) drained?.();
      };
    },
  };
  const server: Server = createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000 },
    options.app(hooks),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    check: {
      name: options.checkName,
      check: () =>
        server.listening && !stopping
          ? Promise.resolve()
          : Promise.reject(new Error(`${options.description} is not accepting`)),
    },
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeIdleConnections();
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      server.closeIdleConnections();
      await closed;
    },
  };
}
