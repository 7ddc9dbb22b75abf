import { stringify } from "yaml";
import type { Catalog, TopicId, TopicSpec } from "./catalog.js";
import { eventDescriptions, events, schemaVersions, type EventName } from "./events.js";
import { exampleEvent } from "./examples.js";
import { headerNames } from "./headers.js";
import { jsonSchemaOf } from "./registered.js";

const KEY_DESCRIPTIONS: Record<TopicSpec["key"], string> = {
  contact:
    "The contact's WhatsApp id (data.contactId: wa_id digits, or BSUID). Contact-keyed topics are co-partitioned: same key, same partition count.",
  business:
    "The business phone_number_id (envelope businessNumber), or the WABA id for account-level webhooks that name no number.",
  raw: "Opaque: the first phone_number_id of the webhook for raw webhooks; the original record's key for dead letters and retries.",
};

/**
 * What a consumer of a topic can count on when a producer crashes (issue 30, ADR 0006 "Exactly
 * one outcome record"), for the topics whose producers differ in it.
 */
const DELIVERY: Readonly<Record<string, string>> = {
  "send-outcomes": [
    "Delivery: consumers should read with isolation.level=read_committed and dedupe on eventId.",
    "The sender writes its outcomes (SendAccepted, SendRejected, SendFailed, SendExpired, SendInDoubt, SendReconciled) in Kafka transactions: with the offset of the dispatch or statuses record they answer, or, for an outcome of no input record (a parked dispatch, the in-doubt timeout, a dead-lettered dispatch), through an outbox that marks each one published once its transaction committed.",
    "A read_committed consumer sees each sender outcome once across crashes, restarts and rebalances of the sender; the one exception is an outbox outcome whose sender dies (or loses the partition) between the commit and the mark, which is written once more with the same eventId.",
    "A read_uncommitted consumer may also see outcomes of aborted transactions (a sender killed between writing and committing, an owner fenced by its successor): the same eventId more than once, and records no read_committed consumer ever sees.",
    "The router writes SendRejected, SendExpired and SendDeduplicated without transactions, through its outbox: at least once, so a router crash can write such an outcome again, with the same eventId, in both isolation levels.",
    "eventId stays the dedupe key for every consumer.",
  ].join(" "),
  dispatch: [
    "Delivery: the sender reads with isolation.level=read_committed.",
    "The router writes DispatchMessage through its outbox, at least once (a replay writes the same eventId again; the sender publishes nothing new for a copy).",
    "The sender writes a late template fallback's DispatchMessage in the transaction of the status record that owed it.",
  ].join(" "),
} satisfies Partial<Record<TopicId, string>>;

const delivery = (id: string): string => {
  const text = DELIVERY[id];
  return text === undefined ? "" : `\n\n${text}`;
};

const headersSchema = {
  type: "object",
  properties: {
    [headerNames.traceparent]: { type: "string", description: "W3C trace context (traceparent)." },
    [headerNames.tracestate]: { type: "string", description: "W3C trace context (tracestate)." },
    [headerNames.correlationId]: {
      type: "string",
      description: "Copy of the envelope correlationId.",
    },
    [headerNames.causationId]: {
      type: "string",
      description: "Copy of the envelope causationId, absent when null.",
    },
    [headerNames.eventType]: { type: "string", description: "Copy of the envelope type." },
    [headerNames.eventId]: { type: "string", description: "Copy of the envelope eventId." },
    [headerNames.schemaVersion]: {
      type: "string",
      description: "Copy of the envelope schemaVersion.",
    },
  },
};

const dlqHeadersSchema = {
  type: "object",
  properties: {
    ...headersSchema.properties,
    [headerNames.dlq.originalTopic]: { type: "string" },
    [headerNames.dlq.originalPartition]: { type: "string", description: "Decimal." },
    [headerNames.dlq.originalOffset]: { type: "string", description: "Decimal." },
    [headerNames.dlq.originalTimestamp]: {
      type: "string",
      description: "Epoch milliseconds, decimal.",
    },
    [headerNames.dlq.errorClass]: { type: "string", description: "The error's class name." },
    [headerNames.dlq.errorMessage]: { type: "string" },
    [headerNames.dlq.attempts]: { type: "string", description: "Decimal." },
    [headerNames.dlq.consumerGroup]: { type: "string" },
    [headerNames.dlq.failedAt]: { type: "string", description: "ISO-8601 instant." },
    [headerNames.redriveCount]: { type: "string", description: "Decimal; set when re-driven." },
  },
};

function withoutDialect(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

function channelBinding(topic: TopicSpec) {
  const retention = topic.config["retention.ms"];
  return {
    kafka: {
      topic: topic.name,
      partitions: topic.partitions,
      topicConfiguration: {
        "cleanup.policy": (topic.config["cleanup.policy"] ?? "delete").split(","),
        ...(retention === undefined ? {} : { "retention.ms": Number(retention) }),
      },
      bindingVersion: "0.5.0",
    },
  };
}

function message(name: EventName, topic: TopicSpec) {
  const example = exampleEvent(name);
  return {
    name,
    title: name,
    summary: eventDescriptions[name],
    contentType: "application/json",
    headers: headersSchema,
    payload: withoutDialect(jsonSchemaOf(events[name])),
    bindings: {
      kafka: {
        key: { type: "string", description: KEY_DESCRIPTIONS[topic.key] },
        schemaIdLocation: "payload",
        schemaLookupStrategy: "TopicNameStrategy",
        bindingVersion: "0.5.0",
      },
    },
    "x-parley-schema-version": schemaVersions[name],
    "x-parley-subject": topic.subject,
    examples: [
      {
        name: `${name}Example`,
        headers: {
          [headerNames.traceparent]: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          [headerNames.correlationId]: example.correlationId,
          [headerNames.eventType]: example.type,
          [headerNames.eventId]: example.eventId,
        },
        payload: example,
      },
    ],
  };
}

/**
 * The AsyncAPI 3.0 document of the catalog: one channel per topic, one message per event with
 * its payload schema, key, headers and an example. Pure: the script writes it to docs/asyncapi.yaml.
 */
export function asyncApiDocument(catalog: Catalog) {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const topic of catalog.topics) {
    channels[topic.id] = {
      address: topic.name,
      title: topic.id,
      description: `${topic.description}\n\nKey: ${topic.key}. ${KEY_DESCRIPTIONS[topic.key]}\nSubject: ${topic.subject} (JSON Schema, BACKWARD_TRANSITIVE).\nProducers: ${topic.producers.join(", ")}. Consumers: ${topic.consumers.join(", ")}.${delivery(topic.id)}`,
      messages: Object.fromEntries(
        topic.events.map((e) => [e, { $ref: `#/components/messages/${e}` }]),
      ),
      bindings: channelBinding(topic),
    };
    operations[`consume-${topic.id}`] = {
      action: "receive",
      channel: { $ref: `#/channels/${topic.id}` },
      summary: `Consume ${topic.name} (${topic.consumers.join(", ")}).`,
    };
    operations[`produce-${topic.id}`] = {
      action: "send",
      channel: { $ref: `#/channels/${topic.id}` },
      summary: `Produced by ${topic.producers.join(", ")}.`,
    };
    for (const e of topic.events) messages[e] = message(e, topic);
  }
  const dlq = catalog.deadLetterTopic("consumer");
  channels["dead-letters"] = {
    address: dlq.name.replace(/consumer$/, "{consumer}"),
    title: "dead-letters",
    description: `${dlq.description.replace("consumer consumer", "the consumer")} One topic per consumer; values are the original bytes (not registered).`,
    parameters: { consumer: { description: "The consumer's stable name, e.g. router-inbound." } },
    messages: { DeadLetter: { $ref: "#/components/messages/DeadLetter" } },
    bindings: channelBinding(dlq),
  };
  messages["DeadLetter"] = {
    name: "DeadLetter",
    title: "DeadLetter",
    summary: "The original record (key, value bytes, headers) plus the failure's headers.",
    contentType: "application/octet-stream",
    headers: dlqHeadersSchema,
    payload: { description: "The original value bytes, unchanged." },
    bindings: {
      kafka: {
        key: { type: "string", description: KEY_DESCRIPTIONS.raw },
        bindingVersion: "0.5.0",
      },
    },
  };
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Parley events",
      version: "1.0.0",
      description:
        "Parley's public Kafka contract, generated from @parley/contracts (do not edit: run `pnpm --filter @parley/contracts asyncapi`). Every value is a JSON envelope registered in the schema registry under `<topic>-value` with BACKWARD_TRANSITIVE compatibility; W3C trace context and correlation ids travel in headers.",
    },
    defaultContentType: "application/json",
    servers: {
      kafka: {
        host: "localhost:9092",
        protocol: "kafka",
        description: "Local broker (make dev); topic names carry no prefix in production.",
      },
    },
    channels,
    operations,
    components: { messages },
  };
}

/** The YAML text of `asyncApiDocument(catalog)`, as committed in docs/asyncapi.yaml. */
export function renderAsyncApi(catalog: Catalog): string {
  return `# Generated by \`pnpm --filter @parley/contracts asyncapi\` from packages/contracts. Do not edit.\n${stringify(
    asyncApiDocument(catalog),
    { aliasDuplicateObjects: false, lineWidth: 0 },
  )}`;
}
