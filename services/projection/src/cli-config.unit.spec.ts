import { ConfigError, infraFields, loadConfig } from "@parley/config";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cliSchema, connectionsOf } from "./cli-config.js";

const load = (env: Record<string, string>) =>
  loadConfig(cliSchema, { service: "parley-projection", env });

describe("parley-projection's configuration: the service's connection settings", () => {
  it("declares every shared connection setting (a setting the CLI does not read is silently dropped)", () => {
    for (const key of Object.keys(infraFields)) expect(cliSchema.shape).toHaveProperty(key);
  });

  it("runs a rebuild at the read side's lower CPU priority unless told otherwise", () => {
    expect(load({}).CPU_NICE).toBe(10);
    expect(load({ CPU_NICE: "0" }).CPU_NICE).toBe(0);
    expect(() => load({ CPU_NICE: "-1" })).toThrow(ConfigError);
  });

  it("reaches a secured Kafka, registry and MongoDB as the service does", () => {
    const { kafka, registry, mongo } = connectionsOf(
      load({
        KAFKA_BROKERS: "kafka-1:9093,kafka-2:9093",
        KAFKA_TLS: "true",
        KAFKA_TLS_SERVERNAME: "kafka.example.internal",
        KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
        KAFKA_SASL_USERNAME: "projection",
        KAFKA_SASL_PASSWORD: "s3cret-password",
        SCHEMA_REGISTRY_URL: "https://registry.example.internal/apis/ccompat/v7",
        SCHEMA_REGISTRY_USERNAME: "projection",
        SCHEMA_REGISTRY_PASSWORD: "registry-password",
        MONGO_URL: "mongodb://mongo.example.internal:27017",
        MONGO_USERNAME: "projection",
        MONGO_PASSWORD: "mongo-password",
        MONGO_TLS: "true",
      }),
    );
    expect(kafka.brokers).toEqual(["kafka-1:9093", "kafka-2:9093"]);
    expect(kafka.security).toEqual({
      tls: {
        ca: undefined,
        cert: undefined,
        key: undefined,
        servername: "kafka.example.internal",
      },
      sasl: { mechanism: "scram-sha-512", username: "projection", password: "s3cret-password" },
    });
    expect(registry).toMatchObject({ username: "projection", password: "registry-password" });
    expect(mongo.auth).toMatchObject({ username: "projection", password: "mongo-password" });
    expect(mongo.tls).toBeDefined();
  });

  it("any mechanism and credentials: a configuration whose Kafka security says what was set, or a ConfigError naming the variable", () => {
    const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom("none", "plain", "scram-sha-256", "SCRAM-SHA-512", "oauthbearer"),
          fc.string({ maxLength: 12 }),
        ),
        maybe(fc.string({ maxLength: 12 })),
        maybe(fc.string({ maxLength: 16 })),
        fc.boolean(),
        (mechanism, username, password, tls) => {
          const env: Record<string, string> = {
            KAFKA_SASL_MECHANISM: mechanism,
            KAFKA_TLS: String(tls),
            ...(username === undefined ? {} : { KAFKA_SASL_USERNAME: username }),
            ...(password === undefined ? {} : { KAFKA_SASL_PASSWORD: password }),
          };
          let config;
          try {
            config = load(env);
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError);
            expect((error as Error).message).toMatch(/KAFKA_(SASL|TLS)/);
            return;
          }
          const security = connectionsOf(config).kafka.security ?? {};
          expect(security.tls !== undefined).toBe(tls);
          // An empty variable counts as unset (the default: none).
          const lower = mechanism === "" ? "none" : mechanism.toLowerCase();
          if (lower === "none") expect(security.sasl).toBeUndefined();
          else expect(security.sasl).toEqual({ mechanism: lower, username, password });
        },
      ),
      { numRuns: 300 },
    );
  });
});
