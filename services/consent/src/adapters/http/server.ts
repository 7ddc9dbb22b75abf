import {
  startApiListener,
  type Component,
  type ReadinessCheck,
  type TlsFiles,
} from "@parley/runtime";
import { createConsentApiApp, type ConsentApiOptions } from "./routes.js";

export interface ConsentApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The consent API's listener as a chassis component: bounded header time (an import or an
 * export may take long, so no request timeout), optional native TLS with HSTS, a readiness
 * check, and a stop that answers new requests with 503 and lets the ones at work finish.
 */
export async function startConsentApiServer(
  options: Omit<ConsentApiOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
    readonly tls?: TlsFiles | undefined;
    readonly hstsMaxAgeSeconds?: number;
  },
): Promise<ConsentApiServer> {
  const listener = await startApiListener({
    host: options.host,
    port: options.port,
    checkName: "consent-api-server",
    description: "the consent API listener",
    requestTimeout: 0,
    tls: options.tls,
    ...(options.hstsMaxAgeSeconds === undefined
      ? {}
      : { hstsMaxAgeSeconds: options.hstsMaxAgeSeconds }),
    app: ({ isStopping, begin }) =>
      createConsentApiApp({ ...options, isStopping, onWork: begin }).app,
  });
  return {
    name: "consent API server",
    port: listener.port,
    check: listener.check,
    stop: () => listener.stop(),
  };
}
