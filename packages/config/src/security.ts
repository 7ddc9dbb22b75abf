import { createPrivateKey, X509Certificate } from "node:crypto";
import { z } from "zod";

// Connection security shared by every service (docs/security.md, ADR 0014). PEM material is
// given as content, usually through `<NAME>_FILE=/path` (the secret provider reads the file);
// a value that does not parse is refused here, at start, naming the variable and never its value.

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** One or more PEM certificates (a CA bundle or a client chain), each parsed by OpenSSL. */
const pemCertificates = () =>
  z.string().superRefine((value, ctx) => {
    const blocks = value.match(CERTIFICATE) ?? [];
    if (blocks.length === 0) {
      ctx.addIssue({
        code: "custom",
        message:
          "is not PEM (no -----BEGIN CERTIFICATE----- block); give the file's content through <NAME>_FILE=/path/to/ca.pem",
      });
      return;
    }
    blocks.forEach((block, index) => {
      try {
        new X509Certificate(block);
      } catch {
        ctx.addIssue({ code: "custom", message: `certificate ${index + 1} does not parse` });
      }
    });
  });

/** An unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1). */
const pemPrivateKey = () =>
  z.string().superRefine((value, ctx) => {
    try {
      createPrivateKey({ key: value, format: "pem" });
    } catch {
      ctx.addIssue({
        code: "custom",
        message:
          "is not an unencrypted PEM private key (decrypt it first, e.g. openssl pkey -in key.pem -out plain.pem)",
      });
    }
  });

const hostname = () =>
  z
    .string()
    .regex(
      /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
      "must be a DNS host name",
    );

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");

/** A secret: at least 8 characters, never logged, never defaulted. */
const secret = () => z.string().min(8, "must be at least 8 characters");

export const SASL_MECHANISMS = [
  "none",
  "plain",
  "scram-sha-256",
  "scram-sha-512",
  "oauthbearer",
] as const;
export type SaslMechanismSetting = (typeof SASL_MECHANISMS)[number];

/** `key=value` pairs separated by commas, e.g. Confluent Cloud's logicalCluster and identityPoolId. */
const extensions = () =>
  z.string().transform((value, ctx) => {
    const out: Record<string, string> = {};
    for (const pair of value
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p.length > 0)) {
      const match = /^([A-Za-z]+)=([\x21-\x7E]+)$/.exec(pair);
      if (match?.[1] === undefined || match[2] === undefined || match[1] === "auth") {
        ctx.addIssue({
          code: "custom",
          message:
            "must be key=value pairs separated by commas (keys of letters, not 'auth'; printable values without spaces)",
        });
        return z.NEVER;
      }
      out[match[1]] = match[2];
    }
    return out;
  });

export const kafkaSecurityFields = {
  /** Connect to the brokers over TLS (SSL or SASL_SSL). */
  KAFKA_TLS: flag(false),
  /** PEM CA bundle that signed the brokers' certificates; unset: Node's public roots. */
  KAFKA_TLS_CA: pemCertificates().optional(),
  /** PEM client certificate (mTLS), with KAFKA_TLS_KEY. */
  KAFKA_TLS_CERT: pemCertificates().optional(),
  /** PEM private key of KAFKA_TLS_CERT. */
  KAFKA_TLS_KEY: pemPrivateKey().optional(),
  /** The name the brokers' certificates are checked against when it differs from the broker host. */
  KAFKA_TLS_SERVERNAME: hostname().optional(),
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(SASL_MECHANISMS))
    .default("none"),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: secret().optional(),
  /** OAUTHBEARER: a file holding the current token, read again at every authentication (rotated by a sidecar). */
  KAFKA_SASL_OAUTHBEARER_TOKEN_PATH: z
    .string()
    .startsWith("/", "must be an absolute path")
    .optional(),
  /** OAUTHBEARER: an OAuth 2 token endpoint, called with the client-credentials grant. */
  KAFKA_SASL_OAUTHBEARER_TOKEN_URL: z.url().optional(),
  KAFKA_SASL_OAUTHBEARER_CLIENT_ID: z.string().min(1).optional(),
  KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: secret().optional(),
  KAFKA_SASL_OAUTHBEARER_SCOPE: z.string().min(1).optional(),
  KAFKA_SASL_OAUTHBEARER_EXTENSIONS: extensions().optional(),
};

export const registrySecurityFields = {
  SCHEMA_REGISTRY_USERNAME: z.string().min(1).optional(),
  SCHEMA_REGISTRY_PASSWORD: secret().optional(),
  /** PEM CA bundle that signed the registry's certificate (an https SCHEMA_REGISTRY_URL). */
  SCHEMA_REGISTRY_TLS_CA: pemCertificates().optional(),
};

export const mongoSecurityFields = {
  /** Credentials kept out of MONGO_URL (so the URL can be logged and the password come from a file). */
  MONGO_USERNAME: z.string().min(1).optional(),
  MONGO_PASSWORD: secret().optional(),
  /** The database holding the user; MongoDB's default is the URL's database, else admin. */
  MONGO_AUTH_SOURCE: z.string().min(1).optional(),
  MONGO_TLS: flag(false),
  MONGO_TLS_CA: pemCertificates().optional(),
  MONGO_TLS_CERT: pemCertificates().optional(),
  MONGO_TLS_KEY: pemPrivateKey().optional(),
};

const isLoopback = (url: string): boolean => {
  try {
    const host = new URL(url).hostname;
    return host === "localhost" || host === "[::1]" || host.startsWith("127.");
  } catch {
    return false;
  }
};

const isSet = (v: unknown): boolean => v !== undefined;
const text = (v: unknown): string => (typeof v === "string" ? v : "");
type Values = Readonly<Record<string, unknown>>;

/**
 * Problems between settings that are each valid alone, for whichever of the shared fields a
 * schema declares: a mechanism without its credentials, credentials nothing uses (a silent
 * fallback to no authentication), a secret that would cross the network in clear.
 */
export function crossFieldProblems(values: Values): string[] {
  const problems: string[] = [];
  const has = (key: string) => Object.hasOwn(values, key);
  const set = (key: string) => isSet(values[key]);
  if (has("KAFKA_SASL_MECHANISM")) problems.push(...kafkaProblems(values, set));
  if (has("SCHEMA_REGISTRY_USERNAME")) {
    if (set("SCHEMA_REGISTRY_USERNAME") !== set("SCHEMA_REGISTRY_PASSWORD"))
      problems.push(
        "SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD: set both (basic auth) or neither",
      );
    const url = text(values["SCHEMA_REGISTRY_URL"]);
    const https = url.startsWith("https:");
    if (set("SCHEMA_REGISTRY_PASSWORD") && !https && !isLoopback(url))
      problems.push(
        "SCHEMA_REGISTRY_PASSWORD: would be sent in clear; use an https:// SCHEMA_REGISTRY_URL",
      );
    if (set("SCHEMA_REGISTRY_TLS_CA") && !https)
      problems.push("SCHEMA_REGISTRY_TLS_CA: needs an https:// SCHEMA_REGISTRY_URL");
  }
  if (has("MONGO_USERNAME")) {
    if (set("MONGO_USERNAME") !== set("MONGO_PASSWORD"))
      problems.push("MONGO_USERNAME, MONGO_PASSWORD: set both or neither");
    const url = text(values["MONGO_URL"]);
    if (set("MONGO_USERNAME") && /^mongodb(\+srv)?:\/\/[^/@]+@/.test(url))
      problems.push(
        "MONGO_USERNAME: MONGO_URL carries credentials too; keep them in one place (drop them from MONGO_URL)",
      );
    if (set("MONGO_AUTH_SOURCE") && !set("MONGO_USERNAME"))
      problems.push("MONGO_AUTH_SOURCE: only used with MONGO_USERNAME and MONGO_PASSWORD");
    for (const key of ["MONGO_TLS_CA", "MONGO_TLS_CERT", "MONGO_TLS_KEY"])
      if (set(key) && values["MONGO_TLS"] !== true)
        problems.push(`${key}: set MONGO_TLS=true to use it`);
    if (set("MONGO_TLS_CERT") !== set("MONGO_TLS_KEY"))
      problems.push("MONGO_TLS_CERT, MONGO_TLS_KEY: set both (client certificate) or neither");
  }
  return problems;
}

function kafkaProblems(values: Values, set: (key: string) => boolean): string[] {
  const problems: string[] = [];
  const tls = values["KAFKA_TLS"] === true;
  for (const key of ["KAFKA_TLS_CA", "KAFKA_TLS_CERT", "KAFKA_TLS_KEY", "KAFKA_TLS_SERVERNAME"])
    if (set(key) && !tls) problems.push(`${key}: set KAFKA_TLS=true to use it`);
  if (set("KAFKA_TLS_CERT") !== set("KAFKA_TLS_KEY"))
    problems.push("KAFKA_TLS_CERT, KAFKA_TLS_KEY: set both (client certificate) or neither");
  const mechanism = values["KAFKA_SASL_MECHANISM"] as SaslMechanismSetting;
  const password = mechanism === "plain" || mechanism.startsWith("scram");
  const oauth = mechanism === "oauthbearer";
  const unused = (keys: readonly string[], why: string) => {
    for (const key of keys) if (set(key)) problems.push(`${key}: ${why}`);
  };
  const oauthKeys = [
    "KAFKA_SASL_OAUTHBEARER_TOKEN_PATH",
    "KAFKA_SASL_OAUTHBEARER_TOKEN_URL",
    "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
    "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    "KAFKA_SASL_OAUTHBEARER_SCOPE",
    "KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
  ];
  if (password) {
    for (const key of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
      if (!set(key)) problems.push(`${key}: required by KAFKA_SASL_MECHANISM=${mechanism}`);
    unused(oauthKeys, `only used with KAFKA_SASL_MECHANISM=oauthbearer, not ${mechanism}`);
    if (mechanism === "plain" && !tls)
      problems.push(
        "KAFKA_SASL_MECHANISM: plain sends the password in clear; set KAFKA_TLS=true (or use scram-sha-512)",
      );
  } else {
    unused(
      ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"],
      `not used with KAFKA_SASL_MECHANISM=${mechanism} (set plain, scram-sha-256 or scram-sha-512)`,
    );
  }
  if (oauth) {
    const path = set("KAFKA_SASL_OAUTHBEARER_TOKEN_PATH");
    const url = set("KAFKA_SASL_OAUTHBEARER_TOKEN_URL");
    if (path === url)
      problems.push(
        "KAFKA_SASL_OAUTHBEARER_TOKEN_PATH, KAFKA_SASL_OAUTHBEARER_TOKEN_URL: set exactly one (a token file, or a client-credentials endpoint)",
      );
    if (url) {
      for (const key of [
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
      ])
        if (!set(key)) problems.push(`${key}: required by KAFKA_SASL_OAUTHBEARER_TOKEN_URL`);
      const endpoint = text(values["KAFKA_SASL_OAUTHBEARER_TOKEN_URL"]);
      if (!endpoint.startsWith("https:") && !isLoopback(endpoint))
        problems.push(
          "KAFKA_SASL_OAUTHBEARER_TOKEN_URL: would send the client secret in clear; use https://",
        );
    } else {
      unused(
        [
          "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
          "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
          "KAFKA_SASL_OAUTHBEARER_SCOPE",
        ],
        "only used with KAFKA_SASL_OAUTHBEARER_TOKEN_URL",
      );
    }
    if (!tls)
      problems.push(
        "KAFKA_SASL_MECHANISM: oauthbearer sends the token in clear; set KAFKA_TLS=true",
      );
  } else if (!password) {
    unused(oauthKeys, `only used with KAFKA_SASL_MECHANISM=oauthbearer, not ${mechanism}`);
  }
  return problems;
}
