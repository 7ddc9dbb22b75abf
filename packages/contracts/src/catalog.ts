import { z } from "zod";
import { events, type AnyEvent, type EventName, type EventOf } from "./events.js";

/**
 * What a topic's record key is:
 * - `contact`: the contact's WhatsApp id (`data.contactId`); all contact-keyed topics are
 *   co-partitioned, so one consumer instance sees everything about a contact in order;
 * - `business`: the business `phone_number_id` (the envelope's `businessNumber`), or the WABA id
 *   for account-level webhooks that name no number;
 * - `raw`: opaque bytes chosen by the producer (raw webhooks use the first `phone_number_id`;
 *   dead letters and retries keep the original record's key).
 */
export type TopicKey = "contact" | "business" | "raw";

/**
 * A topic's spec. `N` is the events it carries as the catalog declares them (`catalog.topic(id)`
 * narrows it), so a consumer of the topic is typed from the catalog (`TopicEvent`).
 */
export interface TopicSpec<N extends EventName = EventName> {
  /** Stable catalog id, e.g. "inbound-messages". */
  readonly id: string;
  /** Full topic name, with the prefix applied. */
  readonly name: string;
  readonly key: TopicKey;
  /** Contact-keyed topics all share one partition count (co-partitioned). */
  readonly partitions: number;
  /** Replication factor; undefined means the broker's `default.replication.factor`. */
  readonly replicationFactor: number | undefined;
  /** Kafka topic configs: cleanup.policy, retention.ms, max.message.bytes, min.insync.replicas, ... */
  readonly config: Readonly<Record<string, string>>;
  /**
   * The largest record batch the topic takes (its `max.message.bytes`, set on every topic so the
   * code and the cluster agree). A producer checks each record against it before sending: an
   * event that cannot fit is never produced (ADR 0007).
   */
  readonly maxRecordBytes: number;
  /** Registry subject (TopicNameStrategy): `${name}-value`. */
  readonly subject: string;
  /** Event types carried. */
  readonly events: readonly N[];
  /** Value schema: a discriminated union (on `type`) of the envelopes of `events`. */
  readonly schema: z.ZodType;
  readonly producers: readonly string[];
  /** Consumer group names (each gets a dead-letter topic from `parley-kafka provision`), or prose for outside readers. */
  readonly consumers: readonly string[];
  readonly description: string;
  /** The record key of an event on this topic; throws for events this topic does not carry. */
  keyOf(event: AnyEvent): string;
}

export type TopicId = (typeof topicDefinitions)[number]["id"];
/** The names of the events topic `Id` carries. */
export type TopicEventName<Id extends TopicId> = Extract<
  (typeof topicDefinitions)[number],
  { readonly id: Id }
>["events"][number];
/** An event of topic `Id`: what a consumer of that topic receives, decoded and checked. */
export type TopicEvent<Id extends TopicId> = EventOf<TopicEventName<Id>>;

export interface CatalogOptions {
  /** Prepended to every topic name; tests use a random one, production "". */
  readonly prefix?: string;
  readonly partitions?: {
    readonly contact?: number;
    readonly business?: number;
    readonly raw?: number;
  };
  /**
   * Replication for every topic. Omit it to use the broker defaults (a single-broker laptop);
   * production sets e.g. `{ factor: 3, minInsyncReplicas: 2 }`.
   */
  readonly replication?: { readonly factor: number; readonly minInsyncReplicas: number };
}

export interface Catalog {
  readonly prefix: string;
  /** Every event topic (dead-letter and retry topics are per consumer: see below). */
  readonly topics: readonly TopicSpec[];
  topic<Id extends TopicId>(id: Id): TopicSpec<TopicEventName<Id>>;
  /** The topic that carries event `type` (each event lives on exactly one topic). */
  topicOf(type: EventName): TopicSpec;
  /** Per-consumer dead-letter topic: raw bytes passthrough, original key, long retention. */
  deadLetterTopic(consumer: string): TopicSpec;
  /** Per-consumer retry topic: raw bytes passthrough, original key, short retention. */
  retryTopic(consumer: string): TopicSpec;
}

export const DEFAULT_PARTITIONS = { contact: 12, business: 12, raw: 6 } as const;

/** Largest record on the raw-webhook topic and on dead-letter and retry topics (8 MiB). */
export const RAW_MESSAGE_BYTES = 8 * 1024 * 1024;

/**
 * Largest record batch on every other topic: Kafka's own default `message.max.bytes` (1 MiB plus
 * the 12-byte log overhead), written into each topic's config so a cluster with another broker
 * default still agrees with the code.
 */
export const EVENT_MESSAGE_BYTES = 1024 * 1024 + 12;

const DAY_MS = 24 * 60 * 60 * 1000;
const days = (n: number) => String(n * DAY_MS);

/**
 * Retention (ADR 0011): every topic the projection's read models are made from keeps everything
 * (`retentionDays: null`), so that a rebuild, and a rebuild as of any instant, reads the whole
 * history; raw webhooks (both lanes) keep 90 days (their facts are kept parsed), dispatch commands are kept
 * because they are the router's decisions. Dead letters 30 days, retries 7.
 */
const topicDefinitions = [
  {
    id: "raw-webhooks",
    key: "raw",
    events: ["RawWebhookReceived"],
    retentionDays: 90,
    // Meta sends up to 3 MB; base64 in the envelope makes that 4 MB, with headroom.
    maxMessageBytes: RAW_MESSAGE_BYTES,
    producers: ["ingress"],
    consumers: ["router-inbound"],
    description:
      "Every signed webhook POST, byte for byte, appended before ingress answers 200. The replayable source of truth: fix a parser, replay this topic.",
  },
  {
    id: "raw-status-webhooks",
    key: "raw",
    events: ["RawStatusWebhookReceived"],
    retentionDays: 90,
    maxMessageBytes: RAW_MESSAGE_BYTES,
    producers: ["ingress"],
    consumers: ["router-statuses"],
    description:
      'The signed webhook POSTs that carry only delivery statuses (none failed), byte for byte, appended before ingress answers 200: the lane the router serves after messages and sends, so that a burst of receipts never holds up a STOP (ADR 0004, "Two raw lanes"). Replayable like raw-webhooks.',
  },
  {
    id: "inbound-messages",
    key: "contact",
    events: ["InboundMessageReceived"],
    retentionDays: null,
    producers: ["router"],
    consumers: ["media", "consent", "projection"],
    description:
      "Messages contacts sent to a business number, every type; unknown types keep Meta's payload.",
  },
  {
    id: "statuses",
    key: "contact",
    events: ["StatusUpdated"],
    retentionDays: null,
    producers: ["router"],
    consumers: ["sender-statuses", "projection", "campaigns-progress"],
    description: "Delivery statuses of sent messages, with errors and pricing.",
  },
  {
    id: "send-requests",
    key: "contact",
    events: ["SendRequested"],
    retentionDays: null,
    producers: ["domain services", "ingress (HTTP send API)", "campaigns"],
    consumers: ["router-outbound", "projection"],
    description:
      "Send requests from domain teams; keyed by contact so a contact's sends stay in order.",
  },
  {
    id: "send-outcomes",
    key: "contact",
    events: [
      "SendAccepted",
      "SendRejected",
      "SendFailed",
      "SendExpired",
      "SendInDoubt",
      "SendReconciled",
      "SendDeduplicated",
    ],
    retentionDays: null,
    producers: ["router", "sender"],
    consumers: [
      "router-templates",
      "projection",
      "domain services",
      "consent",
      "campaigns-signals",
      "campaigns-progress",
    ],
    description: [
      "Every send request's outcomes, ending in exactly one final word (ADR 0009). The final outcome of a request is:",
      "SendRejected, SendExpired or SendDeduplicated (nothing was sent; for SendDeduplicated the answer is the outcome of originalRequestId);",
      "SendFailed phase sync (Graph refused the message; nothing was delivered);",
      "SendAccepted (Meta took the message) unless a SendFailed phase async with the same wamid follows it (Meta failed the message by webhook after accepting it, naming the code: 131047, 132015, 131049, 131026, ...), or the outcome of a late template fallback (fallbackAfter.wamid = that wamid: after a 131047 the request's templateFallback was sent once instead, and this outcome says so);",
      "SendInDoubt is never final: SendReconciled (result sent, then as SendAccepted; result failed, final) or SendFailed (no status within the in-doubt timeout) follows it.",
      "retriable on an error means a NEW request (new idempotency key) may succeed later; Parley never resends by itself. Outcomes of one request share its contact key, so they arrive in order on one partition; a repeated record carries the same eventId (dedupe on it). @parley/client's trackOutcomes applies these rules.",
    ].join(" "),
  },
  {
    id: "consent",
    key: "contact",
    events: [
      "ConsentGranted",
      "ConsentRevoked",
      "UserPreferencesUpdated",
      "ConsentKeywordReceived",
      "ContactErased",
    ],
    retentionDays: null,
    producers: ["router", "consent"],
    consumers: [
      "router-gates",
      "sender-gates",
      "consent",
      "projection",
      "campaigns-contacts",
      "media-erasure",
    ],
    description:
      "Opt-in and opt-out facts; kept forever (erasure destroys the per-contact key, not the log).",
  },
  {
    id: "media",
    key: "contact",
    events: ["MediaStored", "MediaFailed", "MediaExpired", "MediaDeleted"],
    retentionDays: null,
    producers: ["media"],
    consumers: ["projection"],
    description: "What happened to each media object: stored (encrypted), failed, deleted.",
  },
  {
    id: "audit",
    key: "raw",
    events: ["AuditRecorded"],
    retentionDays: null,
    producers: ["consent", "media", "campaigns", "parley-kafka redrive"],
    consumers: ["projection"],
    description:
      "The audit log of sensitive operations done through the APIs, keyed by the actor; kept forever. Read by the auditor role (docs/access-control.md).",
  },
  {
    id: "conversation-windows",
    key: "contact",
    events: ["ConversationWindowOpened", "ConversationWindowExtended"],
    retentionDays: null,
    producers: ["router"],
    consumers: ["router-gates", "sender-gates", "projection", "campaigns-contacts"],
    description: "Customer-service windows per contact and business number.",
  },
  {
    id: "dispatch",
    key: "business",
    events: ["DispatchMessage"],
    retentionDays: null,
    producers: ["router", "sender"],
    consumers: ["sender-dispatch", "projection"],
    description:
      "Commands to call Graph, keyed by business phone_number_id: one partition owner per number keeps its rate cap exact. The sender itself publishes a request's late template fallback here (after Meta failed its free-form message with 131047), so it goes through the number's owner like any send.",
  },
  {
    id: "business-events",
    key: "business",
    events: [
      "TemplateStatusUpdated",
      "TemplateQualityUpdated",
      "TemplateCategoryUpdated",
      "PhoneNumberQualityUpdated",
      "AccountUpdated",
      "BusinessCapabilityUpdated",
      "WebhookErrorsReceived",
      "UnknownWebhookFieldReceived",
    ],
    retentionDays: null,
    producers: ["router"],
    consumers: ["router-templates", "sender-numbers", "projection", "campaigns-signals"],
    description: "Account, number and template webhooks, and webhook fields Parley does not model.",
  },
] as const satisfies readonly {
  id: string;
  key: TopicKey;
  events: readonly EventName[];
  retentionDays: number | null;
  maxMessageBytes?: number;
  producers: readonly string[];
  consumers: readonly string[];
  description: string;
}[];

/** Kafka's limit on topic names, and its legal characters. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const CONSUMER_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;

/** The record key of a contact-keyed event. */
export function contactKeyOf(event: AnyEvent): string {
  const data: unknown = event.data;
  if (
    typeof data === "object" &&
    data !== null &&
    "contactId" in data &&
    typeof data.contactId === "string"
  ) {
    return data.contactId;
  }
  throw new Error(`${event.type} carries no data.contactId`);
}

/** The record key of a business-keyed event: its phone_number_id, else its WABA id. */
export function businessKeyOf(event: AnyEvent): string {
  if (event.businessNumber !== undefined) return event.businessNumber;
  const data: unknown = event.data;
  if (
    typeof data === "object" &&
    data !== null &&
    "wabaId" in data &&
    typeof data.wabaId === "string"
  ) {
    return data.wabaId;
  }
  throw new Error(`${event.type} has no businessNumber and no data.wabaId`);
}

function rawKeyOf(event: AnyEvent): string {
  if (event.type === "RawWebhookReceived" || event.type === "RawStatusWebhookReceived") {
    return event.data.phoneNumberIds[0] ?? event.data.wabaIds[0] ?? event.data.deliveryId;
  }
  return event.eventId;
}

function valueSchema(carried: readonly EventName[]): z.ZodType {
  const [first, ...rest] = carried.map((name) => events[name]);
  if (first === undefined) return z.never();
  return z.discriminatedUnion("type", [first, ...rest]);
}

function checkPartitions(kind: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`createCatalog: partitions.${kind} must be a positive integer, got ${n}`);
  }
  return n;
}

/** Builds the topic catalog: names, keys, partitions, configs, subjects and schemas of every topic. */
export function createCatalog({
  prefix = "",
  partitions = {},
  replication,
}: CatalogOptions = {}): Catalog {
  const counts = {
    contact: checkPartitions("contact", partitions.contact ?? DEFAULT_PARTITIONS.contact),
    business: checkPartitions("business", partitions.business ?? DEFAULT_PARTITIONS.business),
    raw: checkPartitions("raw", partitions.raw ?? DEFAULT_PARTITIONS.raw),
  };
  if (prefix !== "" && !/^[a-zA-Z0-9._-]+$/.test(prefix)) {
    throw new RangeError(
      `createCatalog: prefix "${prefix}" may only contain letters, digits, '.', '_' and '-' (e.g. "t-1a2b.")`,
    );
  }
  if (replication !== undefined && replication.minInsyncReplicas > replication.factor) {
    throw new RangeError(
      `createCatalog: replication.minInsyncReplicas (${replication.minInsyncReplicas}) exceeds replication.factor (${replication.factor}); no write with acks=all could succeed`,
    );
  }
  const durability: Record<string, string> =
    replication === undefined
      ? {}
      : { "min.insync.replicas": String(replication.minInsyncReplicas) };

  const nameOf = (suffix: string) => {
    const name = `${prefix}parley.${suffix}`;
    if (!TOPIC_NAME.test(name)) throw new RangeError(`invalid topic name "${name}"`);
    return name;
  };

  const topics: TopicSpec[] = topicDefinitions.map((def) => {
    const name = nameOf(def.id);
    const carried: readonly EventName[] = def.events;
    const keyFn =
      def.key === "contact" ? contactKeyOf : def.key === "business" ? businessKeyOf : rawKeyOf;
    const maxRecordBytes = "maxMessageBytes" in def ? def.maxMessageBytes : EVENT_MESSAGE_BYTES;
    return Object.freeze({
      id: def.id,
      name,
      key: def.key,
      partitions: counts[def.key],
      replicationFactor: replication?.factor,
      config: Object.freeze({
        "cleanup.policy": "delete",
        "retention.ms": def.retentionDays === null ? "-1" : days(def.retentionDays),
        "max.message.bytes": String(maxRecordBytes),
        ...durability,
      }),
      maxRecordBytes,
      subject: `${name}-value`,
      events: Object.freeze([...carried]),
      schema: valueSchema(carried),
      producers: Object.freeze([...def.producers]),
      consumers: Object.freeze([...def.consumers]),
      description: def.description,
      keyOf(event: AnyEvent): string {
        if (!carried.includes(event.type)) {
          throw new Error(`topic ${def.id} does not carry ${event.type}`);
        }
        return keyFn(event);
      },
    });
  });

  const byId = new Map(topics.map((t) => [t.id, t]));
  const byEvent = new Map(topics.flatMap((t) => t.events.map((e) => [e, t] as const)));

  const passthrough = (kind: "dlq" | "retry", consumer: string): TopicSpec => {
    if (!CONSUMER_NAME.test(consumer)) {
      throw new RangeError(
        `${kind} topic: consumer "${consumer}" must match ${CONSUMER_NAME.source} (use the consumer's stable name, e.g. "router-inbound")`,
      );
    }
    const name = nameOf(`${kind}.${consumer}`);
    return Object.freeze({
      id: `${kind}.${consumer}`,
      name,
      key: "raw",
      partitions: counts.raw,
      replicationFactor: replication?.factor,
      config: Object.freeze({
        "cleanup.policy": "delete",
        "retention.ms": kind === "dlq" ? days(30) : days(7),
        // Any consumer's failed record comes here whole, the largest raw webhook included.
        "max.message.bytes": String(RAW_MESSAGE_BYTES),
        ...durability,
      }),
      maxRecordBytes: RAW_MESSAGE_BYTES,
      subject: `${name}-value`,
      events: Object.freeze([]),
      schema: z.unknown(),
      producers: Object.freeze([consumer]),
      consumers: Object.freeze(kind === "dlq" ? ["re-drive tool"] : [consumer]),
      description:
        kind === "dlq"
          ? `Dead letters of consumer ${consumer}: original key, value and headers, plus the reason and coordinates in headers. Not registered: values are passed through as bytes.`
          : `Delayed retries of consumer ${consumer}: original key, value and headers, plus the attempt and due time in headers.`,
      keyOf(): string {
        throw new Error(`${name} keeps the original record's key`);
      },
    });
  };

  return Object.freeze({
    prefix,
    topics: Object.freeze(topics),
    topic<Id extends TopicId>(id: Id): TopicSpec<TopicEventName<Id>> {
      const spec = byId.get(id);
      if (spec === undefined) throw new RangeError(`unknown topic id "${id}"`);
      // The spec of `id` carries exactly the definition's events (built from it above).
      return spec as TopicSpec<TopicEventName<Id>>;
    },
    topicOf(type: EventName): TopicSpec {
      const spec = byEvent.get(type);
      if (spec === undefined) throw new RangeError(`no topic carries ${type}`);
      return spec;
    },
    deadLetterTopic: (consumer: string) => passthrough("dlq", consumer),
    retryTopic: (consumer: string) => passthrough("retry", consumer),
  });
}

export const topicIds: readonly TopicId[] = topicDefinitions.map((d) => d.id);
