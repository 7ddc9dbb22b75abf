import { isValidatedEvent, registeredSchema, type TopicSpec } from "@parley/contracts";
import { COMPATIBILITY, SchemaType } from "@kafkajs/confluent-schema-registry";
import type { RegistryClient } from "./registry.js";
import {
  InvalidEventError,
  ParleyKafkaError,
  PoisonRecordError,
  SchemaNotRegisteredError,
} from "./errors.js";

export interface Serde {
  /**
   * Validates `event` against the topic's contract (once: the one check on the produce path; an
   * envelope createEvent or parseEvent returned was checked there, and only its type is checked
   * here) and encodes it in the Confluent wire format under the id of the topic's registered schema.
   */
  encode(topic: TopicSpec, event: unknown): Promise<Buffer>;
  /** Decodes a Confluent wire-format record and validates it against the topic's contract. */
  decode(topic: TopicSpec, bytes: Buffer | null): Promise<unknown>;
  /** Registers the topic's schema under its subject with backward-transitive compatibility. */
  register(topic: TopicSpec): Promise<number>;
}

const schemaTypes = { JSON: SchemaType.JSON, AVRO: SchemaType.AVRO } as const;

/** Confluent wire format: magic byte 0, the schema's registry id (int32 big-endian), the JSON. */
const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

function issuesOf(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`).join("; ");
}

/**
 * Schema-registry serialisation that validates each record exactly once, against the topic's
 * contract (the zod schema the registered JSON Schema is generated from, formats included).
 *
 * - The id of each subject's schema is looked up once (by the exact schema text, so the id proves
 *   that this schema is the one registered) and cached; concurrent first uses share one request,
 *   and a failed lookup is forgotten so it can be retried.
 * - encode: one contract check, then `0 | id | JSON` framed here. The registry client's encode is
 *   not used: it would check the same record again with Ajv, and compile a validator per schema
 *   on first use.
 * - decode: a record written with the topic's own registered schema (the usual case) is parsed
 *   and checked against the contract only. A record written with another schema id (an older
 *   version of the subject, another producer) goes through the registry client, which fetches
 *   that writer's schema and checks the record with it, then the contract check as well. The
 *   client caches a writer schema's compiled validator only once built, so a burst of such
 *   records (a consumer's first fetch: hundreds at once) would compile it once per record; the
 *   first decode of each such id runs alone and the others wait for it, then find it cached.
 */
export function createSerde({ registry }: { registry: RegistryClient }): Serde {
  const ids = new Map<string, Promise<number>>();
  /** Per subject, the id of our schema as decode sees it: undefined if it is not registered. */
  const ownIds = new Map<string, Promise<number | undefined>>();
  /** Per foreign writer id, the first decode in progress, or "warm" once one succeeded. */
  const writerGates = new Map<number, Promise<void> | "warm">();

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
            { retry: "outage", cause: error, context: { subject: topic.subject } },
          );
        });
      ids.set(topic.subject, pending);
    }
    return pending;
  };

  /** Our schema's id for decoding: a missing registration is remembered, an outage is not. */
  const ownIdFor = (topic: TopicSpec): Promise<number | undefined> => {
    let pending = ownIds.get(topic.subject);
    if (!pending) {
      pending = idFor(topic).catch((error: unknown) => {
        if (!(error instanceof SchemaNotRegisteredError)) ownIds.delete(topic.subject);
        return undefined;
      });
      ownIds.set(topic.subject, pending);
    }
    return pending;
  };

  /** The registry client's decode (writer schema fetched and checked), first use of an id alone. */
  const decodeWithWriterSchema = (id: number, bytes: Buffer): Promise<unknown> => {
    const gate = writerGates.get(id);
    const work = () => registry.decode(bytes);
    if (gate === "warm") return work();
    if (gate !== undefined) return gate.then(work, work);
    const first = work();
    writerGates.set(
      id,
      first.then(
        () => {
          writerGates.set(id, "warm");
        },
        () => {
          // A failed first use (a bad record, the registry down): the next one goes alone.
          writerGates.delete(id);
        },
      ),
    );
    return first;
  };

  const contractCheck = (topic: TopicSpec, decoded: unknown): unknown => {
    const parsed = topic.schema.safeParse(decoded);
    if (!parsed.success) {
      throw new PoisonRecordError(
        `record on ${topic.name} does not match its contract: ${issuesOf(parsed.error.issues)}`,
      );
    }
    return parsed.data;
  };

  return {
    async encode(topic, event) {
      let value: unknown = event;
      // An envelope createEvent or parseEvent returned passed its type's schema already; the
      // topic's schema is the union of its types' schemas, so only the type is checked again.
      if (!(isValidatedEvent(event) && (topic.events as readonly string[]).includes(event.type))) {
        const parsed = topic.schema.safeParse(event);
        if (!parsed.success) {
          throw new InvalidEventError(
            `event does not match the contract of ${topic.name}: ${issuesOf(parsed.error.issues)}`,
            { context: { topic: topic.name } },
          );
        }
        value = parsed.data;
      }
      const id = await idFor(topic);
      const json = JSON.stringify(value);
      const record = Buffer.allocUnsafe(HEADER_BYTES + Buffer.byteLength(json));
      record.writeUInt8(MAGIC_BYTE, 0);
      record.writeInt32BE(id, 1);
      record.write(json, HEADER_BYTES, "utf8");
      return record;
    },
    async decode(topic, bytes) {
      if (bytes === null || bytes.length === 0)
        throw new PoisonRecordError(`empty record value on ${topic.name}`);
      if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC_BYTE) {
        throw new PoisonRecordError(
          `cannot decode a record of ${topic.name}: not in the schema registry wire format`,
        );
      }
      const writerId = bytes.readInt32BE(1);
      let decoded: unknown;
      try {
        decoded =
          writerId === (await ownIdFor(topic))
            ? JSON.parse(bytes.toString("utf8", HEADER_BYTES))
            : await decodeWithWriterSchema(writerId, bytes);
      } catch (error) {
        throw new PoisonRecordError(
          `cannot decode a record of ${topic.name}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      return contractCheck(topic, decoded);
    },
    async register(topic) {
      const { id } = await registry.register(schemaOf(topic), {
        subject: topic.subject,
        compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE,
      });
      ids.set(topic.subject, Promise.resolve(id));
      ownIds.set(topic.subject, Promise.resolve(id));
      return id;
    },
  };
}
