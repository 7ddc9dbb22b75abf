import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { SASLOptions } from "kafkajs";
import { ParleyError } from "@parley/errors";

/** TLS to the brokers: `true` trusts Node's public roots; a CA bundle for a private CA; a client certificate for mTLS. */
export interface KafkaTls {
  /** PEM CA bundle that signed the brokers' certificates (Node's public roots when absent). */
  readonly ca?: string | undefined;
  /** PEM client certificate chain (mTLS), with `key`. */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** The name certificates are checked against when it is not the broker's host. */
  readonly servername?: string | undefined;
}

/** Where an OAUTHBEARER token comes from. */
export type OAuthTokenSource =
  /** A file holding the current token, read again at every authentication (rotated by a sidecar). */
  | { readonly kind: "file"; readonly path: string }
  /** An OAuth 2 token endpoint called with the client-credentials grant; the token is reused until near its expiry. */
  | {
      readonly kind: "client-credentials";
      readonly url: string;
      readonly clientId: string;
      readonly clientSecret: string;
      readonly scope?: string | undefined;
    };

export type KafkaSasl =
  | {
      readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
      readonly username: string;
      readonly password: string;
    }
  | {
      readonly mechanism: "oauthbearer";
      readonly token: OAuthTokenSource;
      /** SASL extensions sent with the token (Confluent Cloud: logicalCluster, identityPoolId). */
      readonly extensions?: Readonly<Record<string, string>> | undefined;
    };

export interface KafkaSecurity {
  readonly tls?: KafkaTls | boolean | undefined;
  readonly sasl?: KafkaSasl | undefined;
}

/** A token source that cannot give a token: the setting to fix is named (retry never). */
export class KafkaTokenError extends ParleyError {
  override readonly name = "KafkaTokenError";
  constructor(message: string, cause?: unknown) {
    super(message, { retry: "never", cause });
  }
}

/** kafkajs's `ssl` option from ours (undefined: plaintext). */
export function kafkaTlsOptions(
  tls: KafkaSecurity["tls"],
): ConnectionOptions | boolean | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return true;
  const { ca, cert, key, servername } = tls;
  if ((cert === undefined) !== (key === undefined))
    throw new RangeError("createKafka: tls.cert and tls.key go together (mTLS), or neither");
  return {
    rejectUnauthorized: true,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert, key }),
    ...(servername === undefined ? {} : { servername }),
  };
}

/** kafkajs's `sasl` option from ours; `fetchToken` is injectable for the client-credentials call. */
export function kafkaSaslOptions(
  sasl: KafkaSasl | undefined,
  { fetchImpl = fetch, now = Date.now }: { fetchImpl?: typeof fetch; now?: () => number } = {},
): SASLOptions | undefined {
  if (sasl === undefined) return undefined;
  if (sasl.mechanism !== "oauthbearer") {
    if (sasl.username === "" || sasl.password === "")
      throw new RangeError(`createKafka: sasl ${sasl.mechanism} needs a username and a password`);
    return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
  }
  const next =
    sasl.token.kind === "file"
      ? fileToken(sasl.token.path)
      : clientCredentialsToken(sasl.token, fetchImpl, now);
  const extensions = sasl.extensions;
  return {
    mechanism: "oauthbearer",
    oauthBearerProvider: async () => ({
      value: await next(),
      ...(extensions === undefined ? {} : { extensions }),
    }),
  };
}

function fileToken(path: string): () => Promise<string> {
  return () => {
    let token: string;
    try {
      token = readFileSync(path, "utf8").trim();
    } catch (error) {
      return Promise.reject(
        new KafkaTokenError(
          `KAFKA_SASL_OAUTHBEARER_TOKEN_PATH: cannot read ${path} (${(error as Error).message})`,
          error,
        ),
      );
    }
    if (token === "")
      return Promise.reject(
        new KafkaTokenError(`KAFKA_SASL_OAUTHBEARER_TOKEN_PATH: ${path} is empty`),
      );
    return Promise.resolve(token);
  };
}

/** Renew this long before the token's own expiry, so a connection made then still has time. */
const RENEW_BEFORE_MS = 60_000;

function clientCredentialsToken(
  source: Extract<OAuthTokenSource, { kind: "client-credentials" }>,
  fetchImpl: typeof fetch,
  now: () => number,
): () => Promise<string> {
  let cached: { value: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const request = async (): Promise<string> => {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (source.scope !== undefined) body.set("scope", source.scope);
    // RFC 6749 2.3.1: the client id and secret are form-encoded before the basic scheme.
    const basic = Buffer.from(
      `${encodeURIComponent(source.clientId)}:${encodeURIComponent(source.clientSecret)}`,
    ).toString("base64");
    let response: Response;
    try {
      response = await fetchImpl(source.url, {
        method: "POST",
        headers: {
          authorization: `Basic ${basic}`,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      // An unreachable endpoint is an outage: kafkajs retries the connection.
      throw new Error(
        `KAFKA_SASL_OAUTHBEARER_TOKEN_URL: the token endpoint did not answer (${(error as Error).message})`,
        { cause: error },
      );
    }
    if (response.status === 400 || response.status === 401 || response.status === 403)
      throw new KafkaTokenError(
        `KAFKA_SASL_OAUTHBEARER_CLIENT_ID, KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: the token endpoint refused them (HTTP ${response.status})`,
      );
    if (!response.ok)
      throw new Error(
        `KAFKA_SASL_OAUTHBEARER_TOKEN_URL: the token endpoint answered HTTP ${response.status}`,
      );
    const answer = (await response.json().catch(() => undefined)) as
      { access_token?: unknown; expires_in?: unknown } | undefined;
    const value = answer?.access_token;
    if (typeof value !== "string" || value === "")
      throw new KafkaTokenError(
        "KAFKA_SASL_OAUTHBEARER_TOKEN_URL: the token endpoint's answer has no access_token",
      );
    const lifetimeMs =
      typeof answer?.expires_in === "number" && answer.expires_in > 0
        ? answer.expires_in * 1_000
        : 5 * 60_000;
    cached = { value, renewAt: now() + Math.max(lifetimeMs - RENEW_BEFORE_MS, lifetimeMs / 2) };
    return value;
  };
  return () => {
    if (cached !== undefined && now() < cached.renewAt) return Promise.resolve(cached.value);
    pending ??= request().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

/** Node's TLS verification codes meaning "the peer's certificate is not trusted". */
const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);
const EXPIRED = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

function* chain(error: unknown): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const e = current as Record<string, unknown>;
    yield e;
    current = e["originalError"] ?? e["cause"];
  }
}

/** Where a setting is named in a message: the registry, Kafka and MongoDB share the TLS checks. */
export interface TlsSettingNames {
  readonly ca: string;
  readonly servername?: string;
  readonly enable: string;
}

/**
 * A TLS failure that no retry fixes (an untrusted, expired or misnamed certificate, a plaintext
 * server), as a sentence naming the setting to change; undefined for anything else.
 */
export function tlsProblem(error: unknown, names: TlsSettingNames): string | undefined {
  for (const e of chain(error)) {
    const code = typeof e["code"] === "string" ? e["code"] : "";
    const message = typeof e["message"] === "string" ? e["message"] : "";
    if (UNTRUSTED.has(code))
      return `${names.ca}: the server's certificate is not trusted (${code}); give the CA bundle that signed it (${names.ca}_FILE=/path/to/ca.pem)`;
    if (EXPIRED.has(code))
      return `${names.ca}: the server's certificate is not valid now (${code}); renew the server's certificate`;
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
      return `${names.servername ?? names.ca}: the server's certificate does not name the host connected to (${message.replace(/^Connection error: /, "")})`;
    if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(message))
      return `${names.enable}: the server does not speak TLS on this port; use its TLS port or turn ${names.enable} off`;
  }
  return undefined;
}

/**
 * Why connecting to Kafka failed when a retry cannot help, as a sentence naming the setting to
 * fix: the broker refused the SASL credentials or token, does not offer the mechanism, or its
 * certificate is not trusted. Undefined for an outage (refused, reset, timeout), which the
 * service waits out as it does today.
 */
export function kafkaAccessProblem(error: unknown): string | undefined {
  const tls = tlsProblem(error, {
    ca: "KAFKA_TLS_CA",
    servername: "KAFKA_TLS_SERVERNAME",
    enable: "KAFKA_TLS",
  });
  if (tls !== undefined) return tls;
  for (const e of chain(error)) {
    const name = typeof e["name"] === "string" ? e["name"] : "";
    const message = typeof e["message"] === "string" ? e["message"] : "";
    if (name === "KafkaTokenError") return message;
    if (/mechanism is not supported by the server/.test(message))
      return `KAFKA_SASL_MECHANISM: the broker does not offer it (${message})`;
    if (name === "KafkaJSSASLAuthenticationError") {
      if (/OAUTHBEARER/i.test(message))
        return `KAFKA_SASL_OAUTHBEARER_TOKEN_PATH or KAFKA_SASL_OAUTHBEARER_TOKEN_URL: the broker refused the token (${message})`;
      return `KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: the broker refused them (${message}); check the pair and KAFKA_SASL_MECHANISM`;
    }
  }
  return undefined;
}
