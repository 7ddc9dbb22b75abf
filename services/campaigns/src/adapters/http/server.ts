import {
  startApiListener,
  type Component,
  type ReadinessCheck,
  type TlsFiles,
} from "@parley/runtime";
import { createCampaignsApiApp, type CampaignsApiOptions } from "./routes.js";

export interface CampaignsApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * The campaigns API's listener as a chassis component: bounded header time (an audience upload
 * may take long, so no request timeout), optional native TLS with HSTS, a readiness check, and a
 * stop that answers new requests with 503 and lets the ones at work finish.
 */
export async function startCampaignsApiServer(
  options: Omit<CampaignsApiOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
    readonly tls?: TlsFiles | undefined;
    readonly hstsMaxAgeSeconds?: number;
  },
): Promise<CampaignsApiServer> {
  const listener = await startApiListener({
    host: options.host,
    port: options.port,
    checkName: "campaigns-api-server",
    description: "the campaigns API listener",
    requestTimeout: 0,
    tls: options.tls,
    ...(options.hstsMaxAgeSeconds === undefined
      ? {}
      : { hstsMaxAgeSeconds: options.hstsMaxAgeSeconds }),
    app: ({ isStopping, begin }) =>
      createCampaignsApiApp({ ...options, isStopping, onWork: begin }).app,
  });
  return {
    name: "campaigns API server",
    port: listener.port,
    check: listener.check,
    stop: () => listener.stop(),
  };
}
