import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { RegistryHttpError, registryAccessProblem } from "./registry.js";
import { kafkaSecurityOf } from "./security-config.js";
import {
  kafkaAccessProblem,
  kafkaSaslOptions,
  kafkaTlsOptions,
  KafkaTokenError,
  type KafkaSasl,
} from "./security.js";

const dir = mkdtempSync(join(tmpdir(), "parley-kafka-security-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type OAuthProvider = () => Promise<{ value: string; extensions?: Record<string, string> }>;
const providerOf = (sasl: KafkaSasl, deps?: Parameters<typeof kafkaSaslOptions>[1]) => {
  const options = kafkaSaslOptions(sasl, deps) as unknown as { oauthBearerProvider: OAuthProvider };
  return options.oauthBearerProvider;
};

describe("kafkajs options from ours", () => {
  it("TLS: none, public roots, or a CA bundle with verification on and an optional client certificate", () => {
    expect(kafkaTlsOptions(undefined)).toBeUndefined();
    expect(kafkaTlsOptions(false)).toBeUndefined();
    expect(kafkaTlsOptions(true)).toBe(true);
    expect(kafkaTlsOptions({ ca: "CA", servername: "kafka.internal" })).toEqual({
      rejectUnauthorized: true,
      ca: "CA",
      servername: "kafka.internal",
    });
    expect(() => kafkaTlsOptions({ cert: "C" })).toThrow(/tls.cert and tls.key go together/);
  });

  it("SASL with a password passes through; an empty one is refused at construction", () => {
    expect(kafkaSaslOptions({ mechanism: "scram-sha-512", username: "u", password: "p" })).toEqual({
      mechanism: "scram-sha-512",
      username: "u",
      password: "p",
    });
    expect(() => kafkaSaslOptions({ mechanism: "plain", username: "u", password: "" })).toThrow(
      RangeError,
    );
  });

  it("OAUTHBEARER from a file reads it again at every authentication (a sidecar rotates it)", async () => {
    const path = join(dir, "token");
    writeFileSync(path, "first-token\n");
    const provider = providerOf({
      mechanism: "oauthbearer",
      token: { kind: "file", path },
      extensions: { logicalCluster: "lkc-1" },
    });
    expect(await provider()).toEqual({
      value: "first-token",
      extensions: { logicalCluster: "lkc-1" },
    });
    writeFileSync(path, "second-token");
    expect((await provider()).value).toBe("second-token");
    writeFileSync(path, "\n");
    await expect(provider()).rejects.toThrow(/KAFKA_SASL_OAUTHBEARER_TOKEN_PATH: .* is empty/);
    const missing = providerOf({
      mechanism: "oauthbearer",
      token: { kind: "file", path: join(dir, "none") },
    });
    await expect(missing()).rejects.toBeInstanceOf(KafkaTokenError);
  });
});

describe("OAUTHBEARER from a client-credentials endpoint", () => {
  const source = {
    kind: "client-credentials",
    url: "https://idp.example.com/token",
    clientId: "parley app",
    clientSecret: "s3cret:with/odd&chars",
    scope: "kafka",
  } as const;

  /** The identity provider's token endpoint as seen through fetch (the provider is the third party here). */
  const idp = (answer: () => Response) => {
    const calls: { headers: Headers; body: string }[] = [];
    const fetchImpl = ((_url: string | URL | Request, init?: RequestInit) => {
      const body = init?.body;
      calls.push({
        headers: new Headers(init?.headers),
        body: body instanceof URLSearchParams ? body.toString() : "",
      });
      return Promise.resolve(answer());
    }) as typeof fetch;
    return { calls, fetchImpl };
  };

  it("asks once, with the credentials form-encoded in basic auth, and reuses the token until a minute before it expires", async () => {
    let now = 1_000_000;
    let issued = 0;
    const { calls, fetchImpl } = idp(() =>
      Response.json({ access_token: `token-${String(++issued)}`, expires_in: 600 }),
    );
    const provider = providerOf(
      { mechanism: "oauthbearer", token: source },
      { fetchImpl, now: () => now },
    );
    const [a, b] = await Promise.all([provider(), provider()]);
    expect([a.value, b.value]).toEqual(["token-1", "token-1"]);
    expect(calls).toHaveLength(1);
    const basic = Buffer.from(
      `${encodeURIComponent(source.clientId)}:${encodeURIComponent(source.clientSecret)}`,
    ).toString("base64");
    expect(calls[0]?.headers.get("authorization")).toBe(`Basic ${basic}`);
    expect(new URLSearchParams(calls[0]?.body)).toEqual(
      new URLSearchParams({ grant_type: "client_credentials", scope: "kafka" }),
    );
    now += 539_000;
    expect((await provider()).value).toBe("token-1");
    now += 2_000;
    expect((await provider()).value).toBe("token-2");
  });

  it("a refusal names the client id and secret (never retried); an answer without a token says so", async () => {
    const refused = providerOf(
      { mechanism: "oauthbearer", token: source },
      { fetchImpl: idp(() => new Response("{}", { status: 401 })).fetchImpl },
    );
    const error = await refused().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaTokenError);
    expect(kafkaAccessProblem(error)).toBe(
      "KAFKA_SASL_OAUTHBEARER_CLIENT_ID, KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: the token endpoint refused them (HTTP 401)",
    );
    const empty = providerOf(
      { mechanism: "oauthbearer", token: source },
      { fetchImpl: idp(() => Response.json({ token_type: "bearer" })).fetchImpl },
    );
    await expect(empty()).rejects.toThrow(/has no access_token/);
    const down = providerOf(
      { mechanism: "oauthbearer", token: source },
      { fetchImpl: idp(() => new Response("", { status: 503 })).fetchImpl },
    );
    const outage = await down().catch((e: unknown) => e);
    expect(outage).not.toBeInstanceOf(KafkaTokenError);
    expect(kafkaAccessProblem(outage)).toBeUndefined();
  });
});

describe("access problems: what no retry fixes, naming the setting", () => {
  const connectionError = (code: string, message = "x") =>
    Object.assign(new Error(`Connection error: ${message}`), {
      name: "KafkaJSConnectionError",
      code,
    });
  // kafkajs wraps the last attempt's error when its retries run out.
  const retried = (original: unknown) =>
    Object.assign(new Error("retries exceeded"), {
      name: "KafkaJSNumberOfRetriesExceeded",
      originalError: original,
    });

  it.each([
    [
      connectionError("SELF_SIGNED_CERT_IN_CHAIN"),
      /^KAFKA_TLS_CA: the server's certificate is not trusted/,
    ],
    [retried(connectionError("UNABLE_TO_VERIFY_LEAF_SIGNATURE")), /^KAFKA_TLS_CA: /],
    [
      connectionError("CERT_HAS_EXPIRED"),
      /^KAFKA_TLS_CA: the server's certificate is not valid now/,
    ],
    [
      connectionError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match"),
      /^KAFKA_TLS_SERVERNAME: /,
    ],
    [connectionError("ERR_SSL_WRONG_VERSION_NUMBER"), /^KAFKA_TLS: the server does not speak TLS/],
    [
      Object.assign(new Error("SASL SCRAM SHA512 authentication failed: invalid credentials"), {
        name: "KafkaJSSASLAuthenticationError",
      }),
      /^KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD: the broker refused them/,
    ],
    [
      new Error("SASL SCRAM-SHA-256 mechanism is not supported by the server"),
      /^KAFKA_SASL_MECHANISM: the broker does not offer it/,
    ],
  ])("%s", (error, expected) => {
    expect(kafkaAccessProblem(error)).toMatch(expected);
  });

  it("an outage is not a configuration problem", () => {
    expect(kafkaAccessProblem(retried(connectionError("ECONNREFUSED")))).toBeUndefined();
    expect(kafkaAccessProblem(new Error("Closed connection"))).toBeUndefined();
    expect(registryAccessProblem(new RegistryHttpError(503))).toBeUndefined();
    expect(registryAccessProblem(new RegistryHttpError(401))).toBe(
      "SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD: the registry refused them (HTTP 401)",
    );
  });

  it("any thrown value (property): a string naming a setting, or undefined; never a throw, never a loop", () => {
    const errorLike = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.anything(),
        fc.record(
          {
            name: fc.constantFrom(
              "KafkaJSSASLAuthenticationError",
              "KafkaJSConnectionError",
              "Error",
            ),
            message: fc.string(),
            code: fc.oneof(
              fc.constantFrom("SELF_SIGNED_CERT_IN_CHAIN", "ECONNRESET"),
              fc.integer(),
            ),
            cause: tie("node"),
            originalError: tie("node"),
          },
          { requiredKeys: [] },
        ),
      ),
    })).node;
    fc.assert(
      fc.property(errorLike, fc.boolean(), (error, cyclic) => {
        if (cyclic && error !== null && typeof error === "object")
          Object.assign(error, { cause: error });
        for (const answer of [kafkaAccessProblem(error), registryAccessProblem(error)])
          if (answer !== undefined) expect(answer).toMatch(/^[A-Z][A-Z_]+[A-Z](, [A-Z_]+)?[ :(]/);
      }),
      { numRuns: 500 },
    );
  });
});

describe("createKafka's security from the variables", () => {
  it("maps SCRAM over TLS, a token file and a client-credentials endpoint", () => {
    const base = { KAFKA_TLS: true, KAFKA_TLS_CA: "CA" } as const;
    expect(
      kafkaSecurityOf({
        ...base,
        KAFKA_SASL_MECHANISM: "scram-sha-512",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p",
      }),
    ).toEqual({
      tls: { ca: "CA", cert: undefined, key: undefined, servername: undefined },
      sasl: { mechanism: "scram-sha-512", username: "u", password: "p" },
    });
    expect(
      kafkaSecurityOf({
        ...base,
        KAFKA_SASL_MECHANISM: "oauthbearer",
        KAFKA_SASL_OAUTHBEARER_TOKEN_PATH: "/run/token",
      }).sasl,
    ).toEqual({
      mechanism: "oauthbearer",
      token: { kind: "file", path: "/run/token" },
      extensions: undefined,
    });
    expect(kafkaSecurityOf({ KAFKA_TLS: false, KAFKA_SASL_MECHANISM: "none" })).toEqual({
      tls: undefined,
    });
  });
});
