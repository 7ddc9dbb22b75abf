import { randomUUID } from "node:crypto";
import type { Catalog, TopicSpec } from "@parley/contracts";
import type { ConsumedRecord, EventProducer, KafkaLogger, RetryPolicy } from "@parley/kafka";
import {
  ClientClosedError,
  ParleyClientError,
  SendNotAcknowledgedError,
  SubscribeError,
  retriableCause,
} from "./errors.js";
import type { SendOutcome, StatusEvent } from "./events.js";
import { createOutcomeTracker, type AwaitOptions, type OutcomeTracker } from "./tracker.js";
import { sendRequestedEvent, validateSendRequest, type SendRequest } from "./request.js";

/** Where and how a handler's event was delivered; `signal` aborts when the subscription stops. */
export interface Delivery {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** The record key: the contact id on contact-keyed topics. */
  readonly key: string | null;
  /** 1 on the first try, then 2, 3... while the handler throws retriable errors. */
  readonly attempt: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/**
 * Must be idempotent: a rebalance or restart can deliver an event again. Throw an error with
 * `retriable: true` (e.g. a ParleyClientError) to have it retried with back-off; any other
 * error sends the record to the group's dead-letter topic and the subscription moves on.
 */
export type EventHandler<E> = (event: E, delivery: Delivery) => Promise<void> | void;

export interface SubscribeOptions {
  /**
   * Your consumer's stable name, e.g. "orders-outcomes": the consumer group is
   * `<prefix>parley.<group>` and failures go to `<prefix>parley.dlq.<group>`. One group per
   * subscription; each group gets every event of the topic.
   */
  readonly group: string;
  /** Where a new group starts: true (the default) reads the topic's retained history too. */
  readonly fromBeginning?: boolean;
  /** Retries of retriable handler failures (default: 5 attempts, 200 ms doubling up to 10 s). */
  readonly retry?: Partial<RetryPolicy>;
  /** Events taken but unfinished before fetching pauses (default 500). */
  readonly maxInFlight?: number;
  /**
   * Create the group's dead-letter topic when it is missing (default true). Pass false where
   * your Kafka principal may not create topics and the topic is provisioned for you.
   */
  readonly ensureDeadLetterTopic?: boolean;
}

export interface TrackOutcomesOptions extends SubscribeOptions {
  /** Requests whose outcomes are kept (oldest forgotten first); default 100,000. */
  readonly maxTracked?: number;
}

export interface Subscription {
  readonly group: string;
  /** Stops fetching, lets running handlers finish, commits what is done and leaves the group. */
  stop(): Promise<void>;
}

export interface ParleyClient {
  /** Connects the producer now (optional: `requestSend` connects on first use). */
  connect(): Promise<void>;
  /**
   * Validates the request against the SendRequested contract (throws InvalidSendRequestError,
   * or MissingIdempotencyKeyError, before anything is published), publishes it keyed by contact
   * and resolves once every in-sync replica has it. Outcomes name the returned `requestId`.
   */
  requestSend(request: SendRequest): Promise<{ readonly requestId: string }>;
  /** Runs `handler` for every send outcome (SendAccepted, SendRejected, SendFailed, ...). */
  onOutcome(handler: EventHandler<SendOutcome>, options: SubscribeOptions): Promise<Subscription>;
  /** Runs `handler` for every StatusUpdated (sent, delivered, read, played, failed). */
  onStatus(handler: EventHandler<StatusEvent>, options: SubscribeOptions): Promise<Subscription>;
  /**
   * Follows send-outcomes and answers, per request, its final word (ADR 0009): an acceptance
   * superseded by a later SendFailed async or by a late template fallback, SendInDoubt then
   * SendReconciled, SendDeduplicated pointing at the original request. `awaitFinal` waits for it.
   * Use a group of its own (e.g. "orders-final"); `fromBeginning` defaults to false here.
   */
  trackOutcomes(options: TrackOutcomesOptions): Promise<OutcomeTracker>;
  /** Waits for in-flight sends, stops every subscription and disconnects. Idempotent. */
  close(): Promise<void>;
}

/** What the layer below must do for a subscription; `createParleyClient` wires @parley/kafka. */
export interface SubscriptionSpec {
  readonly consumer: string;
  readonly topic: TopicSpec;
  readonly handle: (record: ConsumedRecord<unknown>, signal: AbortSignal) => Promise<void>;
  readonly fromBeginning: boolean;
  readonly retry: Partial<RetryPolicy>;
  readonly maxInFlight: number | undefined;
  readonly ensureDeadLetterTopic: boolean;
}

export interface ClientParts {
  readonly catalog: Catalog;
  readonly producer: Pick<EventProducer, "connect" | "publish" | "disconnect">;
  readonly subscribe: (spec: SubscriptionSpec) => Promise<{ stop(): Promise<void> }>;
  readonly now?: () => Date;
  readonly newId?: () => string;
  readonly logger?: KafkaLogger | undefined;
}

const CONSUMER_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/** The client over injected parts: unit tests pass fakes, `createParleyClient` real Kafka. */
export function createClientFromParts({
  catalog,
  producer,
  subscribe,
  now = () => new Date(),
  newId = randomUUID,
  logger,
}: ClientParts): ParleyClient {
  const sendRequests = catalog.topicOf("SendRequested");
  const outcomes = catalog.topic("send-outcomes");
  const statuses = catalog.topicOf("StatusUpdated");
  const pending = new Set<Promise<unknown>>();
  const subscriptions = new Map<string, { stop(): Promise<void> }>();
  let connecting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const isClosed = (): boolean => closing !== undefined;

  const connect = (): Promise<void> => {
    if (isClosed()) return Promise.reject(new ClientClosedError("connect"));
    connecting ??= producer.connect().catch((error: unknown) => {
      connecting = undefined;
      throw new ParleyClientError(`cannot connect to Kafka: ${messageOf(error)}`, {
        retry: retriableCause(error) ? "bounded" : "never",
        cause: error,
      });
    });
    return connecting;
  };

  const track = <T>(work: Promise<T>): Promise<T> => {
    pending.add(work);
    const forget = (): void => {
      pending.delete(work);
    };
    work.then(forget, forget);
    return work;
  };

  const publish = async (request: SendRequest): Promise<{ readonly requestId: string }> => {
    const valid = validateSendRequest(request);
    const requestId = valid.requestId ?? newId();
    const event = sendRequestedEvent(valid.data, { requestId, now: now(), newId });
    const key = sendRequests.keyOf(event);
    const context = {
      requestId,
      idempotencyKey: valid.data.idempotencyKey,
      topic: sendRequests.name,
    };
    try {
      await connect();
      await producer.publish(sendRequests, [{ key, event }]);
    } catch (error) {
      throw new SendNotAcknowledgedError(
        `SendRequested ${requestId} was not acknowledged by Kafka (${messageOf(error)}); it may or may not be on ${sendRequests.name}: retry with the same idempotencyKey and requestId`,
        { retry: retriableCause(error) ? "bounded" : "never", cause: error, context },
      );
    }
    logger?.debug(context, "send requested");
    return { requestId };
  };

  const subscribeTo = async <E>(
    operation: string,
    topic: TopicSpec,
    handler: EventHandler<E>,
    {
      group,
      fromBeginning = true,
      retry = {},
      maxInFlight,
      ensureDeadLetterTopic = true,
    }: SubscribeOptions,
  ): Promise<Subscription> => {
    if (isClosed()) throw new ClientClosedError(operation);
    if (typeof group !== "string" || !CONSUMER_NAME.test(group)) {
      throw new SubscribeError(
        `${operation}: group ${JSON.stringify(group)} must match ${CONSUMER_NAME.source}: use your consumer's stable name, e.g. "orders-outcomes"`,
        { retry: "never" },
      );
    }
    if (subscriptions.has(group)) {
      throw new SubscribeError(
        `${operation}: group "${group}" is already subscribed by this client; give each subscription its own group, e.g. "${group}-2"`,
        { retry: "never", context: { group } },
      );
    }
    if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new SubscribeError(`${operation}: maxInFlight must be a positive integer`, {
        retry: "never",
        context: { group },
      });
    }
    const placeholder = { stop: () => Promise.resolve() };
    subscriptions.set(group, placeholder);
    let runner: { stop(): Promise<void> };
    try {
      runner = await subscribe({
        consumer: group,
        topic,
        // The record was validated against the topic's contract while decoding.
        handle: async (record, signal) => {
          await handler(record.value as E, {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            key: record.key,
            attempt: record.attempt,
            headers: record.headers,
            signal,
          });
        },
        fromBeginning,
        retry,
        maxInFlight,
        ensureDeadLetterTopic,
      });
    } catch (error) {
      subscriptions.delete(group);
      if (error instanceof ParleyClientError) throw error;
      throw new SubscribeError(`${operation}(${group}): ${messageOf(error)}`, {
        retry: retriableCause(error) ? "bounded" : "never",
        cause: error,
        context: { group, topic: topic.name },
      });
    }
    let stopping: Promise<void> | undefined;
    const subscription: Subscription = {
      group,
      stop() {
        stopping ??= runner.stop().finally(() => {
          if (subscriptions.get(group) === subscription) subscriptions.delete(group);
        });
        return stopping;
      },
    };
    subscriptions.set(group, subscription);
    // close() may have begun while the consumer was starting.
    if (isClosed()) await subscription.stop();
    return subscription;
  };

  return {
    connect,
    requestSend(request) {
      if (isClosed()) return Promise.reject(new ClientClosedError("requestSend"));
      return track(publish(request));
    },
    // Tracked like sends, so close() waits for a subscription that is still starting.
    onOutcome: (handler, options) => track(subscribeTo("onOutcome", outcomes, handler, options)),
    onStatus: (handler, options) => track(subscribeTo("onStatus", statuses, handler, options)),
    trackOutcomes: ({ maxTracked, ...options }) =>
      track(
        (async () => {
          const tracker = createOutcomeTracker(maxTracked === undefined ? {} : { maxTracked });
          const subscription = await subscribeTo<SendOutcome>(
            "trackOutcomes",
            outcomes,
            (outcome) => {
              tracker.add(outcome);
            },
            { fromBeginning: false, ...options },
          );
          return {
            final: (requestId: string) => tracker.final(requestId),
            awaitFinal: (requestId: string, o: AwaitOptions) => tracker.awaitFinal(requestId, o),
            stop: () => subscription.stop(),
          };
        })(),
      ),
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...pending]);
        const results = await Promise.allSettled([...subscriptions.values()].map((s) => s.stop()));
        const connected = connecting
          ? await connecting.then(
              () => true,
              () => false,
            )
          : false;
        if (connected) results.push(...(await Promise.allSettled([producer.disconnect()])));
        const failed = results.filter((r) => r.status === "rejected");
        if (failed.length > 0) {
          throw new ParleyClientError(
            `close: ${failed.length} part(s) did not stop cleanly: ${failed.map((r) => messageOf(r.reason)).join("; ")}`,
            { retry: "never", cause: failed[0]?.reason },
          );
        }
      })();
      return closing;
    },
  };
}
