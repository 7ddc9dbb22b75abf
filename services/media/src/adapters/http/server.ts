import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Component, ReadinessCheck } from "@parley/runtime";
import { createMediaApiApp, type MediaApiOptions } from "./routes.js";

export interface MediaApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The media API's listener as a chassis component: bounded header time (bodies may be large and
 * slow, so no overall request time), a readiness check, and a stop that refuses new requests and
 * lets those at work finish.
 */
export async function startMediaApiServer(
  options: Omit<MediaApiOptions, "isStopping"> & { readonly host: string; readonly port: number },
): Promise<MediaApiServer> {
  let stopping = false;
  const app = createMediaApiApp({ ...options, isStopping: () => stopping });
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 0 }, app);
  // Idle keep-alive connections outlive any client's own idle timeout, so a client never sends a
  // request on a connection the server is closing (node's 5 s lost that race on a loaded machine).
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    name: "media API server",
    port: (server.address() as AddressInfo).port,
    check: {
      name: "media-api-server",
      check: () =>
        server.listening && !stopping
          ? Promise.resolve()
          : Promise.reject(new Error("the media API listener is not accepting")),
    },
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      server.closeIdleConnections();
      await closed;
    },
  };
}
