/** The two variables `make dev` prints (and `infra/native/infra.sh env` exports). */
export function serverEnv(): { brokers: string; schemaRegistryUrl: string; prefix: string } {
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, PARLEY_TOPIC_PREFIX = "" } = process.env;
  if (!KAFKA_BROKERS || !SCHEMA_REGISTRY_URL) {
    console.error(
      "set KAFKA_BROKERS and SCHEMA_REGISTRY_URL, e.g. KAFKA_BROKERS=127.0.0.1:9092 SCHEMA_REGISTRY_URL=http://127.0.0.1:8081",
    );
    process.exit(2);
  }
  return {
    brokers: KAFKA_BROKERS,
    schemaRegistryUrl: SCHEMA_REGISTRY_URL,
    prefix: PARLEY_TOPIC_PREFIX,
  };
}
