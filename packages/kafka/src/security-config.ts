import type { SaslMechanismSetting } from "@parley/config";
import type { KafkaSecurity } from "./security.js";
import type { RegistryOptions } from "./registry.js";

/** The shared Kafka security variables (`kafkaSecurityFields` in @parley/config), as parsed. */
export interface KafkaSecurityConfig {
  readonly KAFKA_TLS: boolean;
  readonly KAFKA_TLS_CA?: string | undefined;
  readonly KAFKA_TLS_CERT?: string | undefined;
  readonly KAFKA_TLS_KEY?: string | undefined;
  readonly KAFKA_TLS_SERVERNAME?: string | undefined;
  readonly KAFKA_SASL_MECHANISM: SaslMechanismSetting;
  readonly KAFKA_SASL_USERNAME?: string | undefined;
  readonly KAFKA_SASL_PASSWORD?: string | undefined;
  readonly KAFKA_SASL_OAUTHBEARER_TOKEN_PATH?: string | undefined;
  readonly KAFKA_SASL_OAUTHBEARER_TOKEN_URL?: string | undefined;
  readonly KAFKA_SASL_OAUTHBEARER_CLIENT_ID?: string | undefined;
  readonly KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET?: string | undefined;
  readonly KAFKA_SASL_OAUTHBEARER_SCOPE?: string | undefined;
  readonly KAFKA_SASL_OAUTHBEARER_EXTENSIONS?: Readonly<Record<string, string>> | undefined;
}

/**
 * createKafka's `security` from the variables. The configuration's cross-field rules already
 * refused incomplete combinations; what is missing here is a programming error.
 */
export function kafkaSecurityOf(config: KafkaSecurityConfig): KafkaSecurity {
  const tls = config.KAFKA_TLS
    ? {
        ca: config.KAFKA_TLS_CA,
        cert: config.KAFKA_TLS_CERT,
        key: config.KAFKA_TLS_KEY,
        servername: config.KAFKA_TLS_SERVERNAME,
      }
    : undefined;
  const mechanism = config.KAFKA_SASL_MECHANISM;
  if (mechanism === "none") return { tls };
  if (mechanism === "oauthbearer") {
    const path = config.KAFKA_SASL_OAUTHBEARER_TOKEN_PATH;
    const url = config.KAFKA_SASL_OAUTHBEARER_TOKEN_URL;
    const token =
      path !== undefined
        ? ({ kind: "file", path } as const)
        : ({
            kind: "client-credentials",
            url: required(url, "KAFKA_SASL_OAUTHBEARER_TOKEN_URL"),
            clientId: required(
              config.KAFKA_SASL_OAUTHBEARER_CLIENT_ID,
              "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
            ),
            clientSecret: required(
              config.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET,
              "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
            ),
            scope: config.KAFKA_SASL_OAUTHBEARER_SCOPE,
          } as const);
    return {
      tls,
      sasl: { mechanism, token, extensions: config.KAFKA_SASL_OAUTHBEARER_EXTENSIONS },
    };
  }
  return {
    tls,
    sasl: {
      mechanism,
      username: required(config.KAFKA_SASL_USERNAME, "KAFKA_SASL_USERNAME"),
      password: required(config.KAFKA_SASL_PASSWORD, "KAFKA_SASL_PASSWORD"),
    },
  };
}

/** The shared registry variables (`registrySecurityFields` in @parley/config), as parsed. */
export interface RegistryConfig {
  readonly SCHEMA_REGISTRY_URL: string;
  readonly SCHEMA_REGISTRY_USERNAME?: string | undefined;
  readonly SCHEMA_REGISTRY_PASSWORD?: string | undefined;
  readonly SCHEMA_REGISTRY_TLS_CA?: string | undefined;
}

/** createRegistry's and createRegistryProbe's options from the variables. */
export function registryOptionsOf(config: RegistryConfig): RegistryOptions {
  return {
    url: config.SCHEMA_REGISTRY_URL,
    username: config.SCHEMA_REGISTRY_USERNAME,
    password: config.SCHEMA_REGISTRY_PASSWORD,
    ca: config.SCHEMA_REGISTRY_TLS_CA,
  };
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new RangeError(`${name} is required by KAFKA_SASL_MECHANISM`);
  return value;
}
