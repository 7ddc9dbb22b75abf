import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { infraFields } from "./fields.js";
import { loadConfig, type Env } from "./load.js";
import { TEST_CERT, TEST_KEY } from "./pem-helpers.js";
import type { SecretProvider } from "./secrets.js";

const schema = z.object(infraFields);
const noFiles = (): string => {
  throw new Error("no file reads expected");
};
const load = (env: Env, secrets?: SecretProvider) =>
  loadConfig(schema, { service: "t", env, ...(secrets ? { secrets } : { readFile: noFiles }) });
const problemsOf = (env: Env): readonly string[] => {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

const SCRAM: Env = {
  KAFKA_TLS: "true",
  KAFKA_TLS_CA: TEST_CERT,
  KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
  KAFKA_SASL_USERNAME: "parley",
  KAFKA_SASL_PASSWORD: "scram-password-1",
};

describe("Kafka security settings", () => {
  it("parse a SCRAM-over-TLS setup (mechanism case-insensitive) and default to none", () => {
    const config = load(SCRAM);
    expect(config.KAFKA_SASL_MECHANISM).toBe("scram-sha-512");
    expect(config.KAFKA_TLS).toBe(true);
    expect(config.KAFKA_TLS_CA).toBe(TEST_CERT);
    const plain = load({});
    expect(plain.KAFKA_SASL_MECHANISM).toBe("none");
    expect(plain.KAFKA_TLS).toBe(false);
  });

  it("take the CA, the password and the client key from *_FILE through the secret provider", () => {
    const files: Record<string, string> = {
      "/run/secrets/ca.pem": `${TEST_CERT}\n`,
      "/run/secrets/kafka": "from-a-file-123\n",
      "/run/secrets/cert.pem": TEST_CERT,
      "/run/secrets/key.pem": TEST_KEY,
    };
    const read: string[] = [];
    const vault: SecretProvider = {
      name: "vault-agent",
      read: (path) => {
        read.push(path);
        const value = files[path];
        if (value === undefined) throw new Error("no such secret");
        return value;
      },
    };
    const config = load(
      {
        ...SCRAM,
        KAFKA_TLS_CA: undefined,
        KAFKA_TLS_CA_FILE: "/run/secrets/ca.pem",
        KAFKA_SASL_PASSWORD: undefined,
        KAFKA_SASL_PASSWORD_FILE: "/run/secrets/kafka",
        KAFKA_TLS_CERT_FILE: "/run/secrets/cert.pem",
        KAFKA_TLS_KEY_FILE: "/run/secrets/key.pem",
      },
      vault,
    );
    expect(config.KAFKA_SASL_PASSWORD).toBe("from-a-file-123");
    expect(config.KAFKA_TLS_KEY).toBe(TEST_KEY);
    expect(read).toHaveLength(4);
    try {
      load({ ...SCRAM, KAFKA_SASL_PASSWORD: undefined, KAFKA_SASL_PASSWORD_FILE: "/x" }, vault);
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toContain(
        "KAFKA_SASL_PASSWORD_FILE: cannot read /x from the vault-agent secret provider (no such secret)",
      );
    }
  });

  it.each<[string, Env, string]>([
    [
      "a mechanism without its password",
      { ...SCRAM, KAFKA_SASL_PASSWORD: undefined },
      "KAFKA_SASL_PASSWORD: required by KAFKA_SASL_MECHANISM=scram-sha-512",
    ],
    [
      "credentials nothing uses",
      { KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "password-1" },
      "KAFKA_SASL_USERNAME: not used with KAFKA_SASL_MECHANISM=none (set plain, scram-sha-256 or scram-sha-512)",
    ],
    ["a CA without TLS", { KAFKA_TLS_CA: TEST_CERT }, "KAFKA_TLS_CA: set KAFKA_TLS=true to use it"],
    [
      "a client certificate without its key",
      { KAFKA_TLS: "true", KAFKA_TLS_CERT: TEST_CERT },
      "KAFKA_TLS_CERT, KAFKA_TLS_KEY: set both (client certificate) or neither",
    ],
    [
      "PLAIN in clear",
      { ...SCRAM, KAFKA_TLS: "false", KAFKA_TLS_CA: undefined, KAFKA_SASL_MECHANISM: "plain" },
      "KAFKA_SASL_MECHANISM: plain sends the password in clear; set KAFKA_TLS=true (or use scram-sha-512)",
    ],
    [
      "OAUTHBEARER with neither a token file nor an endpoint",
      { KAFKA_TLS: "true", KAFKA_SASL_MECHANISM: "oauthbearer" },
      "KAFKA_SASL_OAUTHBEARER_TOKEN_PATH, KAFKA_SASL_OAUTHBEARER_TOKEN_URL: set exactly one (a token file, or a client-credentials endpoint)",
    ],
    [
      "a client secret over http",
      {
        KAFKA_TLS: "true",
        KAFKA_SASL_MECHANISM: "oauthbearer",
        KAFKA_SASL_OAUTHBEARER_TOKEN_URL: "http://idp.example.com/token",
        KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "parley",
        KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: "client-secret-1",
      },
      "KAFKA_SASL_OAUTHBEARER_TOKEN_URL: would send the client secret in clear; use https://",
    ],
    [
      "an unknown mechanism",
      { KAFKA_SASL_MECHANISM: "kerberos" },
      'KAFKA_SASL_MECHANISM: Invalid option: expected one of "none"|"plain"|"scram-sha-256"|"scram-sha-512"|"oauthbearer" (given value rejected)',
    ],
    [
      "registry credentials over http to another host",
      {
        SCHEMA_REGISTRY_URL: "http://registry.example.com",
        SCHEMA_REGISTRY_USERNAME: "u",
        SCHEMA_REGISTRY_PASSWORD: "password-1",
      },
      "SCHEMA_REGISTRY_PASSWORD: would be sent in clear; use an https:// SCHEMA_REGISTRY_URL",
    ],
    [
      "MongoDB credentials in two places",
      {
        MONGO_URL: "mongodb://a:b@db.example.com/",
        MONGO_USERNAME: "u",
        MONGO_PASSWORD: "password-1",
      },
      "MONGO_USERNAME: MONGO_URL carries credentials too; keep them in one place (drop them from MONGO_URL)",
    ],
  ])("refuse %s, naming what to fix", (_, env, problem) => {
    expect(problemsOf(env)).toContain(problem);
  });

  it("accept OAUTHBEARER from a client-credentials endpoint with extensions", () => {
    const config = load({
      KAFKA_TLS: "true",
      KAFKA_SASL_MECHANISM: "OAUTHBEARER",
      KAFKA_SASL_OAUTHBEARER_TOKEN_URL: "https://idp.example.com/oauth2/token",
      KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "parley",
      KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: "client-secret-1",
      KAFKA_SASL_OAUTHBEARER_SCOPE: "kafka",
      KAFKA_SASL_OAUTHBEARER_EXTENSIONS: "logicalCluster=lkc-abc123, identityPoolId=pool-XyZ",
    });
    expect(config.KAFKA_SASL_OAUTHBEARER_EXTENSIONS).toEqual({
      logicalCluster: "lkc-abc123",
      identityPoolId: "pool-XyZ",
    });
  });
});

/** Values that are each refused alone, per variable (a wrong shape, not a wrong combination). */
const HOSTILE: Record<string, fc.Arbitrary<string>> = {
  KAFKA_TLS: fc.constantFrom("maybe", "TRUE ", "2", "on"),
  KAFKA_TLS_CA: fc.oneof(
    fc.string({ maxLength: 40 }).filter((s) => s !== "" && !s.includes("-----BEGIN")),
    fc.constant("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----"),
    fc.constant(TEST_KEY),
  ),
  KAFKA_TLS_KEY: fc.oneof(
    fc.string({ maxLength: 40 }).filter((s) => s !== ""),
    fc.constant(TEST_CERT),
  ),
  KAFKA_TLS_SERVERNAME: fc.constantFrom("-bad.example", "a b", "host_name", "x".repeat(64)),
  KAFKA_SASL_MECHANISM: fc
    .string({ minLength: 1, maxLength: 20 })
    .filter(
      (s) =>
        !["none", "plain", "scram-sha-256", "scram-sha-512", "oauthbearer"].includes(
          s.toLowerCase(),
        ),
    ),
  KAFKA_SASL_PASSWORD: fc.string({ minLength: 1, maxLength: 7 }),
  KAFKA_SASL_OAUTHBEARER_TOKEN_PATH: fc.constantFrom("token.txt", "./run/token", "~/token"),
  KAFKA_SASL_OAUTHBEARER_TOKEN_URL: fc.constantFrom("not a url", "idp/token", "://x"),
  KAFKA_SASL_OAUTHBEARER_EXTENSIONS: fc.constantFrom("a", "auth=x", "k=has space", "1=2", "=v"),
  SCHEMA_REGISTRY_PASSWORD: fc.string({ minLength: 1, maxLength: 7 }),
  SCHEMA_REGISTRY_TLS_CA: fc.constantFrom("ca.pem", "-----BEGIN CERTIFICATE-----"),
  MONGO_PASSWORD: fc.string({ minLength: 1, maxLength: 7 }),
  MONGO_TLS: fc.constantFrom("yes please", "enabled"),
};

describe("hostile security values (property)", () => {
  it("each is refused naming its variable, alongside the others, never echoing a value", () => {
    const keys = Object.keys(HOSTILE);
    fc.assert(
      fc.property(
        fc
          .subarray(keys, { minLength: 1 })
          .chain((chosen) =>
            fc.record(
              Object.fromEntries(chosen.map((k) => [k, HOSTILE[k] as fc.Arbitrary<string>])),
            ),
          ),
        fc.boolean(),
        (hostile, withValidScram) => {
          const env: Record<string, string | undefined> = {
            ...(withValidScram ? SCRAM : {}),
            ...hostile,
          };
          const problems = problemsOf(env);
          // Every hostile variable is named at the start of a problem of its own.
          for (const key of Object.keys(hostile))
            expect(problems.some((p) => p.startsWith(`${key}:`))).toBe(true);
          // A problem always starts with the variables it is about.
          for (const p of problems) expect(p).toMatch(/^[A-Z][A-Z0-9_]*(, [A-Z][A-Z0-9_]*)*: /);
          // A rejected secret never reaches the message: unless the message holds that text
          // whatever the secret (a password "value" is in "(given value rejected)"), it is not
          // in it. The same problems with each secret replaced by as many "#" say which.
          const text = problems.join("\n");
          const secrets = ["KAFKA_SASL_PASSWORD", "SCHEMA_REGISTRY_PASSWORD", "MONGO_PASSWORD"];
          const masked = problemsOf({
            ...env,
            ...Object.fromEntries(
              secrets.flatMap((k) => {
                const v = hostile[k];
                return v === undefined ? [] : [[k, "#".repeat(v.length)]];
              }),
            ),
          }).join("\n");
          for (const key of secrets) {
            const value = hostile[key];
            if (value !== undefined && value.length >= 5 && !masked.includes(value))
              expect(text).not.toContain(value);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("valid combinations load, and their secrets never appear in a problem list of another setting", () => {
    const valid = fc.record({
      KAFKA_SASL_MECHANISM: fc.constantFrom("scram-sha-256", "SCRAM-SHA-512", "plain"),
      KAFKA_SASL_PASSWORD: fc.string({ minLength: 8, maxLength: 40 }),
      KAFKA_SASL_USERNAME: fc.string({ minLength: 1, maxLength: 20 }),
      withClientCert: fc.boolean(),
    });
    fc.assert(
      fc.property(valid, ({ withClientCert, ...sasl }) => {
        const env: Record<string, string> = {
          KAFKA_TLS: "true",
          KAFKA_TLS_CA: TEST_CERT,
          ...sasl,
          ...(withClientCert ? { KAFKA_TLS_CERT: TEST_CERT, KAFKA_TLS_KEY: TEST_KEY } : {}),
        };
        const config = load(env);
        expect(config.KAFKA_SASL_PASSWORD).toBe(sasl.KAFKA_SASL_PASSWORD);
        const problems = problemsOf({ ...env, MONGO_TLS: "sometimes" });
        expect(problems).toHaveLength(1);
        expect(problems.join("\n")).not.toContain(sasl.KAFKA_SASL_PASSWORD);
      }),
      { numRuns: 100 },
    );
  });
});
