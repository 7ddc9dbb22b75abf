import type { Message, Producer, TopicMessages } from "kafkajs";
import { createProducer, type KafkaClient, type KafkaLogger } from "./connection.js";
import { errorMessage, ParleyKafkaError } from "./errors.js";
import type { HealthReporter } from "./health.js";
import {
  createProduceBatcher,
  type ProduceBatchLimits,
  type ProduceRecovery,
} from "./produce-batcher.js";

/** How long a retired producer may take to close before it is left to the garbage collector. */
const RETIRE_BOUND_MS = 5_000;

export interface RenewingProducer {
  connect(): Promise<void>;
  /** One produce request through the current producer; a failure retires that producer. */
  sendBatch(topicMessages: TopicMessages[]): Promise<void>;
  /** kafkajs producers created so far: 1 after connect, one more after each failure. */
  readonly generation: number;
  disconnect(): Promise<void>;
}

/**
 * A kafkajs idempotent producer that is never used again after a failed produce. kafkajs keeps
 * per-partition sequence numbers and rolls them back after a failed request, also for the
 * partitions the broker had appended; from then on the broker refuses that producer's batches as
 * out of order, or acknowledges them as duplicates without appending them (issue 32, kafkajs's
 * "out of order sequence number" reports). A new kafkajs producer gets a new producer id from the
 * broker (InitProducerId), whose sequences start at zero, so nothing it sends can be mistaken for
 * a duplicate. The failed one is disconnected in the background.
 */
export function createRenewingProducer(
  kafka: KafkaClient,
  { name, logger }: { name: string; logger?: KafkaLogger | undefined },
): RenewingProducer {
  let current: Promise<Producer> | undefined;
  let generation = 0;
  let closed = false;
  const retiring = new Set<Promise<void>>();

  const retire = (producer: Producer): void => {
    let timer: NodeJS.Timeout | undefined;
    const closed: Promise<void> = Promise.race([
      producer.disconnect().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, RETIRE_BOUND_MS);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      retiring.delete(closed);
    });
    retiring.add(closed);
  };

  const producer = (): Promise<Producer> => {
    // A producer that was disconnected stays closed: nothing is sent by a stopping service. The
    // caller's record is not lost (the runner hands it back uncommitted; ingress answers 503).
    if (closed) {
      return Promise.reject(
        new ParleyKafkaError(`${name}: the producer is closed; nothing was sent`, {
          retry: "outage",
          context: { producer: name },
        }),
      );
    }
    if (current !== undefined) return current;
    generation++;
    const created = createProducer(kafka);
    const connecting = created.connect().then(
      () => created,
      (error: unknown) => {
        if (current === connecting) current = undefined;
        retire(created);
        throw error;
      },
    );
    current = connecting;
    return connecting;
  };

  return {
    async connect() {
      await producer();
    },
    async sendBatch(topicMessages) {
      const pending = producer();
      const p = await pending;
      try {
        await p.sendBatch({ acks: -1, topicMessages });
      } catch (error) {
        if (current === pending) current = undefined;
        logger?.warn(
          { producer: name, generation, err: errorMessage(error) },
          "produce failed; this producer is retired and the next produce goes through a fresh one",
        );
        retire(p);
        throw error;
      }
    },
    get generation() {
      return generation;
    },
    async disconnect() {
      closed = true;
      const last = current;
      current = undefined;
      if (last !== undefined) {
        const p = await last.catch(() => undefined);
        if (p !== undefined) await p.disconnect();
      }
      await Promise.all(retiring);
    },
  };
}

export interface RecordProducer {
  readonly name: string;
  connect(): Promise<void>;
  /**
   * Appends `messages` to `topic` (in order, sharing requests with concurrent calls); resolves
   * once all in-sync replicas have them, rejects with a ParleyKafkaError carrying its retry
   * decision. `maxRequestBytes`: the topic's record limit, when known.
   */
  send(topic: string, messages: readonly Message[], maxRequestBytes?: number): Promise<void>;
  /** kafkajs producers created so far (one more after each failed produce). */
  readonly generation: number;
  /** Flushes what is in flight and closes. */
  disconnect(): Promise<void>;
}

/**
 * Raw records through a renewing producer and a group-commit batcher (createProduceBatcher), with
 * the producer's health in the client's registry: `failing` while a fresh producer could not
 * deliver either, `ok` again at the next acknowledged request.
 */
export function createRecordProducer({
  kafka,
  name,
  batch,
  recovery,
  logger,
}: {
  kafka: KafkaClient;
  name: string;
  batch?: ProduceBatchLimits | undefined;
  recovery?: ProduceRecovery | undefined;
  logger?: KafkaLogger | undefined;
}): RecordProducer {
  const renewing = createRenewingProducer(kafka, { name, logger });
  let health: HealthReporter | undefined;
  const batcher = createProduceBatcher((tm) => renewing.sendBatch(tm), batch, {
    ...(recovery === undefined ? {} : { recovery }),
    observer: {
      acknowledged: () => health?.ok(),
      failing: (error, final) => {
        health?.failing(`${final ? "gave up" : "recovering"}: ${error.message}`);
        logger?.error(
          { producer: name, err: error.message, final },
          final
            ? "produce failed through fresh producers too; the calls are rejected and the producer is unhealthy until a produce succeeds"
            : "produce failed through a fresh producer too; trying again",
        );
      },
    },
  });
  let inFlight = 0;
  let idle: { promise: Promise<void>; resolve: () => void } | undefined;

  return {
    name,
    async connect() {
      health ??= kafka.health.register(`producer ${name}`, "starting", "connecting");
      await renewing.connect();
      health.ok();
    },
    async send(topic, messages, maxRequestBytes) {
      if (messages.length === 0) return;
      inFlight++;
      try {
        await batcher.append(topic, messages, maxRequestBytes);
      } finally {
        inFlight--;
        if (inFlight === 0) idle?.resolve();
      }
    },
    get generation() {
      return renewing.generation;
    },
    async disconnect() {
      // No more recovery waits: what is failing now fails at once.
      batcher.close();
      if (inFlight > 0) {
        // Every caller of disconnect waits for the same moment: the last in-flight send.
        if (!idle) {
          let resolve: () => void = () => undefined;
          const promise = new Promise<void>((r) => {
            resolve = r;
          });
          idle = { promise, resolve };
        }
        await idle.promise;
      }
      health?.remove();
      await renewing.disconnect();
    },
  };
}
