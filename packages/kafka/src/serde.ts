import { registeredSchema, type TopicSpec } from "@parley/contracts";
import { COMPATIBILITY, SchemaType } from "@kafkajs/confluent-schema-registry";
import type { RegistryClient } from "./registry.js";
import {
  InvalidEventError,
  ParleyKafkaError,
  PoisonRecordError,
  SchemaNotRegisteredError,
} from "./errors.js";

export interface Serde {
  /** Validates `event` against the topic's contract and encodes it in the Confluent wire format. */
  encode(topic: TopicSpec, event: unknown): Promise<Buffer>;
  /** Decodes with the writer's schema (by id) and validates against the topic's contract. */
  decode(topic: TopicSpec, bytes: Buffer | null): Promise<unknown>;
  /** Registers the topic's schema under its subject with backward-transitive compatibility. */
  register(topic: TopicSpec): Promise<number>;
}

const schemaTypes = { JSON: SchemaType.JSON, AVRO: SchemaType.AVRO } as const;

/**
 * Schema-registry serialisation. The id of each subject's schema is looked up once and cached;
 * concurrent first uses share one request, and a failed lookup is forgotten so it can be retried.
 */
export function createSerde({ registry }: { registry: RegistryClient }): Serde {
  const ids = new Map<string, Promise<number>>();

  const schemaOf = (topic: TopicSpec) => {
    const { schemaType, schema } = registeredSchema(topic);
    return { type: schemaTypes[schemaType], schema };
  };

  const idFor = (topic: TopicSpec): Promise<number> => {
    let pending = ids.get(topic.subject);
    if (!pending) {
      pending = registry
        .getRegistryIdBySchema(topic.subject, schemaOf(topic))
        .catch((error: unknown) => {
          ids.delete(topic.subject);
          // The client wraps only a 404 in ConfluentSchemaRegistryError: the subject or our
          // version of its schema is missing. Anything else (refused, timed out, 5xx) is an
          // outage that a later attempt may get past.
          if (error instanceof Error && error.name === "ConfluentSchemaRegistryError") {
            throw new SchemaNotRegisteredError(topic.subject, error);
          }
          throw new ParleyKafkaError(
            `schema registry unavailable while looking up ${topic.subject}: ${error instanceof Error ? error.message : String(error)}`,
            { retriable: true, cause: error, context: { subject: topic.subject } },
          );
        });
      ids.set(topic.subject, pending);
    }
    return pending;
  };

  return {
    async encode(topic, event) {
      const parsed = topic.schema.safeParse(event);
      if (!parsed.success) {
        throw new InvalidEventError(
          `event does not match the contract of ${topic.name}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
          { context: { topic: topic.name } },
        );
      }
      return registry.encode(await idFor(topic), parsed.data);
    },
    async decode(topic, bytes) {
      if (bytes === null || bytes.length === 0)
        throw new PoisonRecordError(`empty record value on ${topic.name}`);
      let decoded: unknown;
      try {
        decoded = await registry.decode(bytes);
      } catch (error) {
        throw new PoisonRecordError(
          `cannot decode a record of ${topic.name}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      const parsed = topic.schema.safeParse(decoded);
      if (!parsed.success) {
        throw new PoisonRecordError(
          `record on ${topic.name} does not match its contract: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        );
      }
      return parsed.data;
    },
    async register(topic) {
      const { id } = await registry.register(schemaOf(topic), {
        subject: topic.subject,
        compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE,
      });
      ids.set(topic.subject, Promise.resolve(id));
      return id;
    },
  };
}
