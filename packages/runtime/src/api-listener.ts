import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createServer as createHttpServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { ReadinessCheck } from "./readiness.js";

/** Native TLS for a listener: PEM files read at start and again whenever they change. */
export interface TlsFiles {
  readonly certPath: string;
  readonly keyPath: string;
  /** How often the files are checked (fs.watchFile polling: survives atomic renames and mounts). */
  readonly reloadIntervalMs?: number;
  /** Each reload (error: the pair did not load; the previous one stays in use). */
  readonly onReload?: (error?: unknown) => void;
}

/** The TLS settings of a service's chassis configuration, or undefined for plain HTTP. */
export function tlsFilesOf(
  config: {
    readonly HTTP_TLS_CERT_PATH?: string | undefined;
    readonly HTTP_TLS_KEY_PATH?: string | undefined;
    readonly HTTP_TLS_RELOAD_INTERVAL_MS?: number | undefined;
  },
  onReload?: (error?: unknown) => void,
): TlsFiles | undefined {
  if (config.HTTP_TLS_CERT_PATH === undefined && config.HTTP_TLS_KEY_PATH === undefined)
    return undefined;
  if (config.HTTP_TLS_CERT_PATH === undefined || config.HTTP_TLS_KEY_PATH === undefined)
    throw new RangeError("native TLS needs both HTTP_TLS_CERT_PATH and HTTP_TLS_KEY_PATH");
  return {
    certPath: config.HTTP_TLS_CERT_PATH,
    keyPath: config.HTTP_TLS_KEY_PATH,
    ...(config.HTTP_TLS_RELOAD_INTERVAL_MS === undefined
      ? {}
      : { reloadIntervalMs: config.HTTP_TLS_RELOAD_INTERVAL_MS }),
    ...(onReload === undefined ? {} : { onReload }),
  };
}

export interface PlainOrTlsServer {
  readonly server: Server | HttpsServer;
  /** Stops watching the certificate files (the server itself is closed by its owner). */
  readonly unwatch: () => void;
}

/**
 * An HTTP server, or with `tls` an HTTPS one (TLS 1.2 minimum, 1.3 preferred by negotiation)
 * whose certificate is replaced in place (setSecureContext) when its files change: new
 * connections get the new certificate, open ones keep theirs, no restart. With
 * `hstsMaxAgeSeconds` (> 0) over TLS, every answer carries Strict-Transport-Security.
 */
export function createPlainOrTlsServer(
  listener: RequestListener,
  {
    tls,
    hstsMaxAgeSeconds = 0,
    headersTimeout = 10_000,
    requestTimeout = 30_000,
  }: {
    readonly tls?: TlsFiles | undefined;
    readonly hstsMaxAgeSeconds?: number;
    readonly headersTimeout?: number;
    readonly requestTimeout?: number;
  },
): PlainOrTlsServer {
  if (tls === undefined) {
    return {
      server: createHttpServer({ headersTimeout, requestTimeout }, listener),
      unwatch: () => undefined,
    };
  }
  const read = () => ({ cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) });
  const hsts = `max-age=${String(hstsMaxAgeSeconds)}; includeSubDomains`;
  const withHsts: RequestListener =
    hstsMaxAgeSeconds > 0
      ? (req, res) => {
          res.setHeader("Strict-Transport-Security", hsts);
          listener(req, res);
        }
      : listener;
  const server = createHttpsServer(
    { ...read(), minVersion: "TLSv1.2", headersTimeout, requestTimeout },
    withHsts,
  );
  const reload = () => {
    try {
      server.setSecureContext({ ...read(), minVersion: "TLSv1.2" });
      tls.onReload?.();
    } catch (error) {
      // Mid-rotation the new certificate may sit beside the old key: the next change retries.
      tls.onReload?.(error);
    }
  };
  const options = { interval: tls.reloadIntervalMs ?? 5_000, persistent: false };
  watchFile(tls.certPath, options, reload);
  watchFile(tls.keyPath, options, reload);
  return {
    server,
    unwatch: () => {
      unwatchFile(tls.certPath, reload);
      unwatchFile(tls.keyPath, reload);
    },
  };
}

/** What an app needs from its listener to refuse new work while stopping and to be waited for. */
export interface WorkHooks {
  readonly isStopping: () => boolean;
  /** Marks one piece of work begun; call the result (once or more) when it settles. */
  readonly begin: () => () => void;
}

export interface ApiListener {
  readonly port: number;
  readonly tls: boolean;
  readonly check: ReadinessCheck;
  /** Stops accepting, waits for the work in flight (each piece bounded by its own timeout), closes. */
  stop(): Promise<void>;
}

export interface ApiListenerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly checkName: string;
  /** Named in the readiness failure, e.g. "the consent API listener". */
  readonly description: string;
  readonly app: (hooks: WorkHooks) => RequestListener;
  readonly tls?: TlsFiles | undefined;
  readonly hstsMaxAgeSeconds?: number;
  readonly headersTimeout?: number;
  /** 0: none (imports, exports and uploads may take long). */
  readonly requestTimeout?: number;
  readonly keepAliveTimeout?: number;
}

/**
 * The listener of every API (and of ingress's webhook): bounded header time, optional native
 * TLS with certificate reload and HSTS, a readiness check, and a stop that lets the work already
 * begun settle before the producer behind it is stopped.
 */
export async function startApiListener(options: ApiListenerOptions): Promise<ApiListener> {
  let stopping = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const hooks: WorkHooks = {
    isStopping: () => stopping,
    begin: () => {
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight--;
        if (inFlight === 0) drained?.();
      };
    },
  };
  const { server, unwatch } = createPlainOrTlsServer(options.app(hooks), {
    tls: options.tls,
    ...(options.hstsMaxAgeSeconds === undefined
      ? {}
      : { hstsMaxAgeSeconds: options.hstsMaxAgeSeconds }),
    headersTimeout: options.headersTimeout ?? 10_000,
    requestTimeout: options.requestTimeout ?? 30_000,
  });
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    tls: options.tls !== undefined,
    check: {
      name: options.checkName,
      check: () =>
        server.listening && !stopping
          ? Promise.resolve()
          : Promise.reject(new Error(`${options.description} is not accepting`)),
    },
    async stop() {
      stopping = true;
      unwatch();
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
