import { setMaxListeners } from "node:events";
import type { AnyEvent, Catalog, EventOf } from "@parley/contracts";
import {
  createEventConsumer,
  ParleyKafkaError,
  PoisonRecordError,
  PROMPT_COMMIT_INTERVAL_MS,
  type ConsumedRecord,
  type ConsumerRunner,
  type EventProducer,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type OutputRecord,
  type RecordContext,
  type Serde,
  type TransactionalMode,
} from "@parley/kafka";
import { mongoRetryOf } from "@parley/mongo";
import {
  recordOrigin,
  type DispatchOutlet,
  type GateStore,
  type OutcomeOutlet,
} from "../../domain/ports.js";
import type {
  DispatchFeed,
  DispatchParking,
  RecordAt,
  SenderConsumers,
  SenderHandlers,
} from "../../sending/ports.js";

/** Consumer names: each one's group and dead-letter topic derive from it. */
export const SENDER_DISPATCH_CONSUMER = "sender-dispatch";
export const SENDER_GATES_CONSUMER = "sender-gates";
export const SENDER_STATUSES_CONSUMER = "sender-statuses";
export const SENDER_NUMBERS_CONSUMER = "sender-numbers";

interface Common {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
}

/**
 * The runner decides from the failure's retry decision alone. An error that carries one keeps
 * it; a MongoDB driver error is an outage when the server is unavailable; anything else (a
 * programming error, a document the server refuses) is final: dead-lettered, never retried.
 */
async function translate(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (typeof error === "object" && error !== null && ("retry" in error || "retriable" in error))
      throw error;
    throw new ParleyKafkaError(error instanceof Error ? error.message : String(error), {
      retry: mongoRetryOf(error),
      cause: error,
    });
  }
}

/**
 * What the consumers that publish (dispatch, statuses) need to hand their outcomes to their
 * record's Kafka transaction (ADR 0006, "Exactly one outcome record"): an event as an output
 * record, and the transactional mode's settings.
 */
export interface Outputs {
  readonly encode: (event: AnyEvent) => Promise<OutputRecord>;
  readonly transactional?: Omit<TransactionalMode, "afterCommit">;
}

/** The outlet of one input record: its outputs are committed with its offset, once. */
function recordOutlet(
  record: ConsumedRecord<AnyEvent>,
  context: RecordContext,
  encode: Outputs["encode"],
): OutcomeOutlet {
  return {
    origin: recordOrigin(record.topic, record.partition, record.offset),
    async publish(_requestId, events) {
      const outputs = await Promise.all(events.map(encode));
      context.publish(...outputs);
    },
  };
}

/** The dispatch topic's one event, typed from the catalog (the runner checked it against the contract). */
type DispatchRecord = ConsumedRecord<EventOf<"DispatchMessage">>;

function dispatchOf(record: DispatchRecord): EventOf<"DispatchMessage"> {
  const event = record.value;
  if (event.businessNumber === undefined)
    throw new PoisonRecordError("DispatchMessage without its envelope businessNumber");
  return event;
}

/**
 * dispatch -> the send handler, concurrent per recipient inside each number (the record key),
 * each recipient in order; a dispatch without its business number is a poison record. With
 * `parking`, a record its number parks goes to the runner's side track instead, so it does
 * not wait behind its recipient's records in memory. Transactional: each record's outcomes are
 * committed with its offset; `outboxOf` gives the outlet of outcomes of no record on the
 * record's partition (a dead-lettered dispatch's).
 */
export function createDispatchConsumer({
  handle,
  parking,
  outputs,
  outboxOf,
  ...common
}: Common & {
  readonly handle: (
    event: EventOf<"DispatchMessage">,
    signal: AbortSignal,
    outlet: DispatchOutlet,
    at: RecordAt,
  ) => Promise<unknown>;
  readonly parking?: DispatchParking;
  readonly outputs: Outputs;
  readonly outboxOf: (partition: number) => OutcomeOutlet;
}): ConsumerRunner {
  return createEventConsumer({
    kafka: common.kafka,
    serde: common.serde,
    catalog: common.catalog,
    consumer: SENDER_DISPATCH_CONSUMER,
    topics: [common.catalog.topic("dispatch")],
    ...(common.logger ? { logger: common.logger } : {}),
    tuning: {
      retry: { attempts: 30, initialDelayMs: 200, maxDelayMs: 30_000 },
      ...common.tuning,
      transactional: { ...outputs.transactional },
      concurrencyKeyOf: (record) => record.value.data.to,
      ...(parking
        ? {
            setAside: async (record: DispatchRecord, load: { inFlight: number }) => {
              const event = dispatchOf(record);
              const number = event.businessNumber ?? "";
              const at: RecordAt = { partition: record.partition, offset: Number(record.offset) };
              let why: "paused" | "overflow" | undefined;
              await translate(async () => {
                why = await parking.setAside(number, at, load.inFlight);
              });
              if (why === undefined) return undefined;
              const reason = why;
              return () => translate(() => parking.park(number, at, event, reason));
            },
          }
        : {}),
    },
    handle: async (record, signal, context) => {
      const event = dispatchOf(record);
      // Every waiting send listens for shutdown on this one signal.
      setMaxListeners(0, signal);
      const at: RecordAt = { partition: record.partition, offset: Number(record.offset) };
      const outlet: DispatchOutlet = {
        ...recordOutlet(record, context, outputs.encode),
        outbox: outboxOf(record.partition),
      };
      await translate(async () => {
        await handle(event, signal, outlet, at);
      });
    },
  });
}

/** consent + conversation-windows -> the sender's own gate store. */
export function createGateConsumer({
  gates,
  ...common
}: Common & { readonly gates: GateStore }): ConsumerRunner {
  return createEventConsumer({
    kafka: common.kafka,
    serde: common.serde,
    catalog: common.catalog,
    consumer: SENDER_GATES_CONSUMER,
    topics: [common.catalog.topic("consent"), common.catalog.topic("conversation-windows")],
    ...(common.logger ? { logger: common.logger } : {}),
    // Prompt commits: the group's committed offset on consent is when an opt-out is seen
    // enforced (ADR 0005, "Gates apart").
    tuning: {
      retry: { attempts: 30, initialDelayMs: 200, maxDelayMs: 30_000 },
      commitIntervalMs: PROMPT_COMMIT_INTERVAL_MS,
      ...common.tuning,
    },
    handle: async (record) => {
      const event = record.value;
      await translate(async () => {
        switch (event.type) {
          case "ConsentGranted":
          case "ConsentRevoked":
            await gates.consent(
              event.data.contactId,
              event.type === "ConsentGranted" ? "granted" : "revoked",
              event.data.scope,
              Date.parse(event.occurredAt),
            );
            return;
          case "ConversationWindowOpened":
          case "ConversationWindowExtended":
            if (event.businessNumber !== undefined)
              await gates.window(
                event.data.contactId,
                event.businessNumber,
                Date.parse(event.data.expiresAt),
              );
            return;
          case "UserPreferencesUpdated":
            return; // preferences do not gate sends
        }
      });
    },
  });
}

/**
 * statuses -> what Meta says after a call: in-doubt sends reconciled, failed statuses of
 * accepted messages turned into their request's final outcome (or its late template fallback).
 * A failed status without callback data is matched by its wamid. Transactional: what a status
 * decides (an outcome, a late fallback's DispatchMessage) is committed with its offset.
 */
export function createStatusConsumer({
  onStatus,
  outputs,
  ...common
}: Common & {
  readonly onStatus: (
    event: EventOf<"StatusUpdated">,
    outlet: OutcomeOutlet,
    signal: AbortSignal,
  ) => Promise<void>;
  readonly outputs: Outputs;
}): ConsumerRunner {
  return createEventConsumer({
    kafka: common.kafka,
    serde: common.serde,
    catalog: common.catalog,
    consumer: SENDER_STATUSES_CONSUMER,
    topics: [common.catalog.topic("statuses")],
    ...(common.logger ? { logger: common.logger } : {}),
    tuning: {
      retry: { attempts: 30, initialDelayMs: 200, maxDelayMs: 30_000 },
      ...common.tuning,
      transactional: { ...outputs.transactional },
    },
    handle: async (record, signal, context) => {
      const event = record.value;
      if (event.data.bizOpaqueCallbackData === undefined && event.data.status !== "failed") return;
      await translate(() => onStatus(event, recordOutlet(record, context, outputs.encode), signal));
    },
  });
}

/** business-events -> each number's throughput as Meta reports it (phone_number_quality_update). */
export function createNumbersConsumer({
  onQuality,
  ...common
}: Common & {
  readonly onQuality: (event: EventOf<"PhoneNumberQualityUpdated">) => Promise<void>;
}): ConsumerRunner {
  return createEventConsumer({
    kafka: common.kafka,
    serde: common.serde,
    catalog: common.catalog,
    consumer: SENDER_NUMBERS_CONSUMER,
    topics: [common.catalog.topic("business-events")],
    ...(common.logger ? { logger: common.logger } : {}),
    tuning: { retry: { attempts: 30, initialDelayMs: 200, maxDelayMs: 30_000 }, ...common.tuning },
    handle: async (record) => {
      const event = record.value;
      if (event.type !== "PhoneNumberQualityUpdated") return;
      await translate(() => onQuality(event));
    },
  });
}

/**
 * The four consumers of the sender over one client, from the sending side's handlers. Outcomes
 * are not produced on their own: each goes into a Kafka transaction, its record's or (through
 * the dispatch feed's `publishWith`) the outbox's (ADR 0006, "Exactly one outcome record").
 */
export function createSenderConsumers({
  handlers,
  producer,
  beforeDispatchCommit,
  tuning,
  ...common
}: Omit<Common, "tuning"> & {
  readonly handlers: SenderHandlers;
  /** Encodes outcome events as output records (validated, size-checked) for the transactions. */
  readonly producer: Pick<EventProducer, "output">;
  /**
   * Fault injection for tests: runs before each transaction of the dispatch consumer commits,
   * after its outputs and offsets were sent (a crash here is the case ADR 0006's exactly-once
   * outcomes are about).
   */
  readonly beforeDispatchCommit?: TransactionalMode["beforeCommit"] | undefined;
  readonly tuning: { readonly maxInFlight: number };
}): SenderConsumers & { readonly dispatch: { readonly stats: ConsumerRunner["stats"] } } {
  const encode = (event: AnyEvent) => {
    const topic = common.catalog.topicOf(event.type);
    return producer.output(topic, { key: topic.keyOf(event), event });
  };
  const runner = createDispatchConsumer({
    ...common,
    handle: handlers.handle,
    parking: handlers.parking,
    outputs: {
      encode,
      transactional: beforeDispatchCommit ? { beforeCommit: beforeDispatchCommit } : {},
    },
    outboxOf: handlers.outboxOf,
    tuning: {
      maxInFlight: tuning.maxInFlight,
      // One partition's backlog (a number sending at its cap) takes at most half: the numbers on
      // the other partitions keep being fetched meanwhile (ADR 0006). Half of that half is still
      // a 1,000 msg/s number's sends for the fetch wait (500 ms) at the default 2,000.
      maxInFlightPerPartition: Math.max(1, Math.floor(tuning.maxInFlight / 2)),
    },
  });
  const topic = common.catalog.topic("dispatch").name;
  const dispatch: DispatchFeed & { readonly stats: ConsumerRunner["stats"] } = {
    groupId: runner.groupId,
    get stats() {
      return runner.stats;
    },
    assignment: () => runner.assignment(topic),
    pending: (partition, number, recipient) => runner.pending(topic, partition, number, recipient),
    setAsidePending: (partition, number) => runner.setAsidePending(topic, partition, number),
    publishWith: async (partition, events) =>
      runner.publishWith(topic, partition, await Promise.all(events.map(encode))),
    start: () => runner.start(),
    stop: () => runner.stop(),
  };
  return {
    dispatch,
    gates: createGateConsumer({ ...common, gates: handlers.gates }),
    statuses: createStatusConsumer({
      ...common,
      outputs: { encode },
      onStatus: handlers.onStatus,
    }),
    numbers: createNumbersConsumer({ ...common, onQuality: handlers.onQuality }),
  };
}
