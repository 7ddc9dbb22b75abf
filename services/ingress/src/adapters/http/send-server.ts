import type { Catalog } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import {
  createAuthenticator,
  jwtSettingsOf,
  startApiListener,
  type Authenticator,
  type Component,
  type ReadinessCheck,
  type TlsFiles,
} from "@parley/runtime";
import type { Logger, Metrics } from "@parley/telemetry";
import type { Db } from "mongodb";
import { createRateLimiter } from "../../admission/rate-limit.js";
import type { ApiKeyEntry } from "../../config.js";
import { createSendApiMetrics } from "../../metrics.js";
import { createAcceptSend } from "../../sending/accept.js";
import { sendRequestedPublisher } from "../kafka/send-requests.js";
import { createMongoSendRecordStore } from "../store/send-record-store.js";
import { createProjectionClient } from "./projection-client.js";
import { createSendApiApp, MESSAGES_PATH, type SendApiAppOptions } from "./send-routes.js";

export interface SendApiServer extends Component {
  readonly port: number;
  readonly check: ReadinessCheck;
}

/**
 * Starts the send API listener as a chassis component. `stop` stops accepting, answers new
 * requests on open connections with 503, waits for requests at work (each bounded by the
 * publish and store timeouts), then closes; the producer, stopped after it, flushes last.
 */
export async function startSendApiServer(
  options: Omit<SendApiAppOptions, "isStopping" | "onWork"> & {
    readonly host: string;
    /** 0 picks a free port (tests). */
    readonly port: number;
    readonly tls?: TlsFiles | undefined;
    readonly hstsMaxAgeSeconds?: number;
  },
): Promise<SendApiServer> {
  const listener = await startApiListener({
    host: options.host,
    port: options.port,
    tls: options.tls,
    ...(options.hstsMaxAgeSeconds === undefined
      ? {}
      : { hstsMaxAgeSeconds: options.hstsMaxAgeSeconds }),
    checkName: "send-api-server",
    description: "the send API listener",
    app: ({ isStopping, begin }) => createSendApiApp({ ...options, isStopping, onWork: begin }).app,
  });
  const { port } = listener;
  options.logger.info(
    {
      host: options.host,
      port,
      path: MESSAGES_PATH,
      keys: options.authenticator.keys,
      jwt: options.authenticator.jwt,
      tls: listener.tls,
    },
    "send API listening",
  );
  return { name: "send API server", port, check: listener.check, stop: () => listener.stop() };
}

/** The send API's settings (ingress's configuration, SEND_API_*). */
export interface SendApiSettings {
  readonly HTTP_HOST: string;
  readonly SEND_API_KEYS: readonly ApiKeyEntry[];
  readonly SEND_API_HOST?: string | undefined;
  readonly SEND_API_PORT: number;
  readonly SEND_API_BODY_LIMIT_BYTES: number;
  readonly SEND_API_PUBLISH_TIMEOUT_MS: number;
  readonly SEND_API_RATE_PER_SECOND: number;
  readonly SEND_API_RATE_BURST: number;
  readonly SEND_API_COLLECTION: string;
  readonly SEND_API_IDEMPOTENCY_TTL_MS: number;
  readonly PROJECTION_API_URL?: string | undefined;
  readonly PROJECTION_API_KEY?: string | undefined;
  readonly PROJECTION_API_TIMEOUT_MS?: number | undefined;
  readonly API_JWT_ISSUER?: string | undefined;
  readonly API_JWT_AUDIENCE?: string | undefined;
  readonly API_JWT_JWKS_URL?: string | undefined;
  readonly API_JWT_JWKS?: string | undefined;
  readonly API_JWT_ALGORITHMS?: readonly string[];
  readonly API_JWT_CLOCK_TOLERANCE_S?: number;
  readonly HTTP_HSTS_MAX_AGE_S?: number;
}

/**
 * The send API from connections its caller owns (main.ts passes ingress's; a test its own): the
 * idempotency-key store on `db`, the store-then-publish use case on `producer` and the catalog's
 * send-requests topic, the listener. Stopping it stops the listener only; the caller closes the
 * connections after it.
 */
export async function startSendApi(
  settings: SendApiSettings,
  {
    db,
    producer,
    catalog,
    logger,
    metrics,
    tls,
    authenticator,
  }: {
    readonly db: Db;
    readonly producer: Pick<EventProducer, "publish">;
    readonly catalog: Catalog;
    readonly logger: Logger;
    readonly metrics: Metrics;
    readonly tls?: TlsFiles | undefined;
    /** main.ts passes one whose key files are re-read on change; default: fixed keys. */
    readonly authenticator?: Authenticator | undefined;
  },
): Promise<SendApiServer> {
  const store = createMongoSendRecordStore({
    db,
    collection: settings.SEND_API_COLLECTION,
    retentionMs: settings.SEND_API_IDEMPOTENCY_TTL_MS,
  });
  await store.ensureIndexes().catch((error: unknown) => {
    logger.warn({ err: error }, "send API: MongoDB indexes not created yet; retried on use");
  });
  const sendApiMetrics = createSendApiMetrics(metrics);
  return startSendApiServer({
    host: settings.SEND_API_HOST ?? settings.HTTP_HOST,
    port: settings.SEND_API_PORT,
    authenticator:
      authenticator ??
      createAuthenticator({
        api: "messages",
        keys: settings.SEND_API_KEYS,
        jwt: jwtSettingsOf(settings),
      }),
    tls,
    ...(settings.HTTP_HSTS_MAX_AGE_S === undefined
      ? {}
      : { hstsMaxAgeSeconds: settings.HTTP_HSTS_MAX_AGE_S }),
    store,
    ...(settings.PROJECTION_API_URL === undefined || settings.PROJECTION_API_KEY === undefined
      ? {}
      : {
          outcomes: createProjectionClient({
            url: settings.PROJECTION_API_URL,
            key: settings.PROJECTION_API_KEY,
            timeoutMs: settings.PROJECTION_API_TIMEOUT_MS ?? 2_000,
          }),
        }),
    acceptSend: createAcceptSend({
      store,
      publish: sendRequestedPublisher(producer, catalog),
      metrics: sendApiMetrics,
      publishTimeoutMs: settings.SEND_API_PUBLISH_TIMEOUT_MS,
      onBackgroundError: (error, record) => {
        logger.warn(
          { err: error, requestId: record.requestId },
          "send request published but not marked so; a retry of its key re-publishes it (deduped downstream)",
        );
      },
    }),
    bodyLimitBytes: settings.SEND_API_BODY_LIMIT_BYTES,
    rateLimiter: createRateLimiter({
      ratePerSecond: settings.SEND_API_RATE_PER_SECOND,
      burst: settings.SEND_API_RATE_BURST,
    }),
    metrics: sendApiMetrics,
    logger,
  });
}
