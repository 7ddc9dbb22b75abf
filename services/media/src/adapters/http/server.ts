import {
  startApiListener,
  type Component,
  type ReadinessCheck,
  type TlsFiles,
} from "@parley/runtime";
import { createMediaApiApp, type MediaApiOptions } from "./routes.js";

export interface MediaApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The media API's listener as a chassis component: bounded header time (bodies may be large and
 * slow, so no overall request time), optional native TLS with HSTS, a readiness check, and a
 * stop that refuses new requests and lets those at work finish.
 */
export async function startMediaApiServer(
  options: Omit<MediaApiOptions, "isStopping"> & {
    readonly host: string;
    readonly port: number;
    readonly tls?: TlsFiles | undefined;
    readonly hstsMaxAgeSeconds?: number;
  },
): Promise<MediaApiServer> {
  const listener = await startApiListener({
    host: options.host,
    port: options.port,
    checkName: "media-api-server",
    description: "the media API listener",
    requestTimeout: 0,
    // Idle keep-alive connections outlive any client's own idle timeout, so a client never sends
    // a request on a connection the server is closing (node's 5 s lost that race when loaded).
    keepAliveTimeout: 65_000,
    tls: options.tls,
    ...(options.hstsMaxAgeSeconds === undefined
      ? {}
      : { hstsMaxAgeSeconds: options.hstsMaxAgeSeconds }),
    app: ({ isStopping }) => createMediaApiApp({ ...options, isStopping }).app,
  });
  return {
    name: "media API server",
    port: listener.port,
    check: listener.check,
    stop: () => listener.stop(),
  };
}
