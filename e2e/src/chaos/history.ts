// Collects a chaos run's history for the checker (checker.ts): a compact record of every event
// on the topics the promises are about (kept small: a full run reads several hundred thousand),
// and what the simulated Meta saw and answered. Read-committed, from the beginning, as any
// consumer of Parley's public topics would.
import type { AnyEvent, Catalog, TopicId } from "@parley/contracts";
import type { Simulator } from "@parley/cloud-api-sim";
import {
  createEventConsumer,
  type ConsumerRunner,
  type KafkaClient,
  type Serde,
} from "@parley/kafka";
import type {
  Delivery,
  GraphSend,
  OutcomeEvent,
  PairPacingRecord,
  TypedEvent,
  WebhookItem,
} from "./checker.js";

const TOPICS: readonly TopicId[] = [
  "send-requests",
  "send-outcomes",
  "inbound-messages",
  "statuses",
];
const OUTCOME_TYPES = new Set<string>([
  "SendAccepted",
  "SendRejected",
  "SendFailed",
  "SendExpired",
  "SendInDoubt",
  "SendReconciled",
  "SendDeduplicated",
]);

export interface TopicHistory {
  readonly requests: string[];
  readonly outcomes: OutcomeEvent[];
  readonly typed: TypedEvent[];
  /** Records read so far, all topics. */
  count(): number;
  stop(): Promise<void>;
}

/** Follows the four topics from their beginning, keeping what the checker needs of each event. */
export async function followTopics({
  kafka,
  serde,
  catalog,
  consumer,
}: {
  kafka: KafkaClient;
  serde: Serde;
  catalog: Catalog;
  consumer: string;
}): Promise<TopicHistory> {
  const requests: string[] = [];
  const outcomes: OutcomeEvent[] = [];
  const typed: TypedEvent[] = [];
  let count = 0;
  const keep = (e: AnyEvent): void => {
    count++;
    const data = e.data as Record<string, unknown>;
    if (e.type === "SendRequested") requests.push(e.correlationId);
    else if (OUTCOME_TYPES.has(e.type))
      outcomes.push({
        eventId: e.eventId,
        type: e.type as OutcomeEvent["type"],
        requestId: String(data["requestId"]),
        ...(data["phase"] === "sync" || data["phase"] === "async" ? { phase: data["phase"] } : {}),
        ...(data["fallbackAfter"] !== undefined ? { fallbackAfter: true } : {}),
      });
    else if (e.type === "InboundMessageReceived")
      typed.push({ kind: "message", wamid: String(data["wamid"]), eventId: e.eventId });
    else if (e.type === "StatusUpdated")
      typed.push({
        kind: "status",
        wamid: String(data["wamid"]),
        status: String(data["status"]),
        eventId: e.eventId,
      });
  };
  const runner: ConsumerRunner = createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer,
    topics: TOPICS.map((id) => catalog.topic(id)),
    tuning: { fromBeginning: true },
    handle: (record) => {
      keep(record.value);
      return Promise.resolve();
    },
  });
  await runner.start();
  return { requests, outcomes, typed, count: () => count, stop: () => runner.stop() };
}

/** The items of a webhook payload as the checker names them. */
export function webhookItems(payload: unknown): WebhookItem[] {
  const items: WebhookItem[] = [];
  const entries = (payload as { entry?: { changes?: { field?: string; value?: unknown }[] }[] })
    .entry;
  for (const entry of entries ?? [])
    for (const change of entry.changes ?? []) {
      if (change.field !== "messages") continue;
      const value = change.value as {
        messages?: { id: string }[];
        statuses?: { id: string; status: string }[];
      };
      for (const m of value.messages ?? []) items.push({ kind: "message", wamid: m.id });
      for (const s of value.statuses ?? [])
        items.push({ kind: "status", wamid: s.id, status: s.status });
    }
  return items;
}

/** What the simulated Meta saw: its webhook POSTs and answers, the sends it accepted, pacing. */
export function simulatorHistory(sim: Simulator): {
  deliveries: Delivery[];
  graphSends: GraphSend[];
  pairPacing: PairPacingRecord[];
} {
  return {
    deliveries: sim.webhookDeliveries().map((d) => ({
      deliveryId: d.deliveryId,
      attempt: d.attempt,
      outcome: d.outcome,
      items: webhookItems(d.payload),
    })),
    graphSends: sim.messages().map((m) => ({
      wamid: m.wamid,
      phoneNumberId: m.phoneNumberId,
      waId: m.waId,
      acceptedAt: m.acceptedAt,
      requestId: m.callbackData,
    })),
    pairPacing: sim.pairPacing().map((p) => ({
      phoneNumberId: p.phoneNumberId,
      waId: p.waId,
      overLimitAt: p.overLimitAt,
    })),
  };
}
