import {
  startApiListener,
  type Component,
  type ReadinessCheck,
  type TlsFiles,
} from "@parley/runtime";
import { createQueryApiApp, type QueryApiOptions } from "./routes.js";

export interface QueryApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The query API's listener as a chassis component: bounded header and request times, optional
 * native TLS with HSTS, a readiness check, and a stop that answers new requests with 503 and
 * lets the ones at work finish.
 */
export async function startQueryApiServer(
  options: Omit<QueryApiOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
    readonly tls?: TlsFiles | undefined;
    readonly hstsMaxAgeSeconds?: number;
  },
): Promise<QueryApiServer> {
  const listener = await startApiListener({
    host: options.host,
    port: options.port,
    checkName: "query-api-server",
    description: "the query API listener",
    tls: options.tls,
    ...(options.hstsMaxAgeSeconds === undefined
      ? {}
      : { hstsMaxAgeSeconds: options.hstsMaxAgeSeconds }),
    app: ({ isStopping, begin }) =>
      createQueryApiApp({ ...options, isStopping, onWork: begin }).app,
  });
  return {
    name: "query API server",
    port: listener.port,
    check: listener.check,
    stop: () => listener.stop(),
  };
}
