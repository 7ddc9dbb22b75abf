import type * as Testcontainers from "testcontainers";
import type * as KafkaContainers from "@testcontainers/kafka";
import type * as MongoContainers from "@testcontainers/mongodb";
import { createNamespace, type Namespace } from "./namespace.js";

export interface Stack {
  /** Where the servers came from: already running ones named by the environment, or containers. */
  readonly source: "environment" | "testcontainers";
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  readonly mongoUrl: string;
  /** A fresh set of names for one spec: topic prefix, consumer groups, database. */
  namespace(label?: string): Namespace;
  /** Stops what startStack started (containers); servers from the environment are left running. */
  stop(): Promise<void>;
}

export interface StartStackOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Images used when containers are started (pinned; Kafka 4.x line). */
  readonly images?: {
    readonly kafka?: string;
    readonly schemaRegistry?: string;
    readonly mongo?: string;
  };
}

const VARS = ["KAFKA_BROKERS", "SCHEMA_REGISTRY_URL", "MONGO_URL"] as const;

export class StackUnavailableError extends Error {
  override readonly name = "StackUnavailableError";
}

const HOW_TO_FIX =
  "Either point the tests at running servers by setting KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL " +
  "(in the Parley repo `make test` does this for you; by hand: `infra/native/infra.sh start` then " +
  '`eval "$(infra/native/infra.sh env)"`), or run where a Docker engine answers so that testcontainers can start them.';

/**
 * Starts (or finds) Kafka, a Confluent-API schema registry and MongoDB for a test suite.
 * With all three variables set it uses those servers; with none it starts containers through
 * testcontainers, imported only then; otherwise it fails and says how to fix it. Never skips.
 */
export async function startStack({
  env = process.env,
  images = {},
}: StartStackOptions = {}): Promise<Stack> {
  const given = VARS.filter((v) => (env[v] ?? "") !== "");
  if (given.length === VARS.length) {
    const brokers = (env["KAFKA_BROKERS"] ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean);
    return {
      source: "environment",
      kafkaBrokers: brokers,
      schemaRegistryUrl: env["SCHEMA_REGISTRY_URL"] ?? "",
      mongoUrl: env["MONGO_URL"] ?? "",
      namespace: createNamespace,
      stop: () => Promise.resolve(),
    };
  }
  if (given.length > 0) {
    const missing = VARS.filter((v) => !given.includes(v));
    throw new StackUnavailableError(
      `startStack: ${given.join(", ")} set but ${missing.join(", ")} missing. ${HOW_TO_FIX}`,
    );
  }
  return startContainers(images);
}

async function startContainers(images: NonNullable<StartStackOptions["images"]>): Promise<Stack> {
  let tc: typeof Testcontainers;
  let kafkaModule: typeof KafkaContainers;
  let mongoModule: typeof MongoContainers;
  try {
    [tc, kafkaModule, mongoModule] = await Promise.all([
      import("testcontainers"),
      import("@testcontainers/kafka"),
      import("@testcontainers/mongodb"),
    ]);
  } catch (error) {
    throw new StackUnavailableError(
      `startStack: no servers in the environment and testcontainers is not installed ` +
        `(add testcontainers, @testcontainers/kafka and @testcontainers/mongodb as dev dependencies). ${HOW_TO_FIX}`,
      { cause: error },
    );
  }
  const started: { stop(): Promise<unknown> }[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of started.reverse()) await c.stop().catch(() => undefined);
  };
  try {
    const network = await new tc.Network().start();
    started.push(network);
    const kafka = await new kafkaModule.KafkaContainer(
      images.kafka ?? "confluentinc/cp-kafka:8.0.0",
    )
      .withKraft()
      .withNetwork(network)
      .withNetworkAliases("kafka")
      .start();
    started.push(kafka);
    const registry = await new tc.GenericContainer(
      images.schemaRegistry ?? "confluentinc/cp-schema-registry:8.0.0",
    )
      .withNetwork(network)
      .withExposedPorts(8081)
      .withEnvironment({
        SCHEMA_REGISTRY_HOST_NAME: "schema-registry",
        SCHEMA_REGISTRY_LISTENERS: "http://0.0.0.0:8081",
        SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: "PLAINTEXT://kafka:9092",
      })
      .withWaitStrategy(tc.Wait.forHttp("/subjects", 8081))
      .start();
    started.push(registry);
    const mongo = await new mongoModule.MongoDBContainer(images.mongo ?? "mongo:7.0.14").start();
    started.push(mongo);
    return {
      source: "testcontainers",
      kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
      schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
      mongoUrl: `${mongo.getConnectionString()}/?directConnection=true`,
      namespace: createNamespace,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    const message = error instanceof Error ? error.message : String(error);
    throw new StackUnavailableError(
      `startStack: could not start containers (${message}). ${HOW_TO_FIX}`,
      { cause: error },
    );
  }
}
