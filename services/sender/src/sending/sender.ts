import type { AnyEvent, Catalog } from "@parley/contracts";
import {
  partitionOfKey,
  type EventProducer,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
  type TransactionalMode,
} from "@parley/kafka";
import type { NumberDirectory } from "@parley/numbers";
import type { Metrics } from "@parley/telemetry";
import type { Db } from "mongodb";
import {
  createDispatchConsumer,
  createGateConsumer,
  createNumbersConsumer,
  createStatusConsumer,
} from "../adapters/kafka/consumers.js";
import { createDispatchTopicAdmin } from "../adapters/kafka/dispatch-topic.js";
import { createMongoAttemptStore } from "../adapters/store/attempt-store.js";
import { createMongoGateStore } from "../adapters/store/gate-store.js";
import { createMongoParkStore } from "../adapters/store/park-store.js";
import { createMongoThroughputStore } from "../adapters/store/throughput-store.js";
import type { Config } from "../config.js";
import { createDispatchHandler, type SenderLogger } from "./dispatch-handler.js";
import { createGraph } from "./graph.js";
import { createOutbox } from "./outbox.js";
import { NumberLane } from "./lanes.js";
import { CallPermits } from "./permits.js";
import { createSenderMetrics } from "./metrics.js";
import { createParking } from "./parking.js";
import { createReconciler } from "./reconcile.js";
import { sharesPartition } from "./shared-partition.js";
import { createThroughput } from "./throughput.js";

/** How often each instance applies the throughput levels another instance stored. */
const THROUGHPUT_POLL_MS = 5_000;
/**
 * How long an outbox outcome stays pending before the partition owner's sweep publishes it: far
 * longer than a live owner takes from a transaction's commit to marking it published (ADR 0006).
 */
const OUTBOX_GRACE_MS = 15_000;

export type SenderSettings = Pick<
  Config,
  | "WA_GRAPH_BASE_URL"
  | "WA_GRAPH_VERSION"
  | "SENDER_GRAPH_TIMEOUT_MS"
  | "SENDER_GRAPH_CONNECTIONS"
  | "SENDER_MAX_IN_FLIGHT"
  | "SENDER_RATE_MARGIN_MS"
  | "SENDER_RATE_MARGIN_MAX_MS"
  | "SENDER_RATE_MARGIN_RELAX_MS"
  | "SENDER_RATE_SMOOTHING_MS"
  | "SENDER_PAIR_MAX_BACKOFF_MS"
  | "SENDER_NUMBER_MAX_BACKOFF_MS"
  | "SENDER_RETRY_ATTEMPTS"
  | "SENDER_RETRY_INITIAL_MS"
  | "SENDER_RETRY_MAX_MS"
  | "SENDER_MAX_PACED_ATTEMPTS"
  | "SENDER_IN_DOUBT_TIMEOUT_MS"
  | "SENDER_IN_DOUBT_SWEEP_MS"
  | "SENDER_PAUSE_PROBE_MS"
  | "SENDER_PARK_SWEEP_MS"
  | "SENDER_PARK_ABOVE"
  | "SENDER_WINDOW_RECHECK_MS"
  | "SENDER_GATE_RECHECK_AFTER_MS"
  | "SENDER_THROUGHPUT_REFRESH_MS"
>;

export interface SenderDeps {
  readonly settings: SenderSettings;
  readonly directory: NumberDirectory;
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  /** Encodes outcome events as output records (validated, size-checked) for the transactions. */
  readonly producer: Pick<EventProducer, "output">;
  readonly db: Db;
  readonly metrics: Metrics;
  readonly logger: SenderLogger & KafkaLogger;
  readonly clock?: () => number;
  readonly random?: () => number;
  /**
   * Fault injection for tests: runs before each transaction of the dispatch consumer commits,
   * after its outputs and offsets were sent (a crash here is the case ADR 0006's exactly-once
   * outcomes are about).
   */
  readonly beforeDispatchCommit?: TransactionalMode["beforeCommit"];
}

/**
 * The sender's parts wired together: the dispatch consumer (per-recipient concurrency) with
 * its lanes and Graph clients, the gate consumer, the status reconciler, the in-doubt sweeper,
 * the paused-number probe and the parking of paused numbers' dispatches. `start` and `stop` in
 * dependency order.
 */
export function createSender({
  settings: s,
  directory,
  kafka,
  serde,
  catalog,
  producer,
  db,
  metrics,
  logger,
  clock = () => Date.now(),
  random = Math.random,
  beforeDispatchCommit,
}: SenderDeps) {
  const observer = createSenderMetrics(metrics);
  const attempts = createMongoAttemptStore(db);
  const gates = createMongoGateStore(db);
  const graph = createGraph({
    directory,
    baseUrl: s.WA_GRAPH_BASE_URL,
    graphVersion: s.WA_GRAPH_VERSION,
    timeoutMs: s.SENDER_GRAPH_TIMEOUT_MS,
    connections: s.SENDER_GRAPH_CONNECTIONS,
  });
  const lanes = new Map<string, NumberLane>();
  const throughput = createThroughput({
    directory,
    store: createMongoThroughputStore(db),
    readLevel: (number) => graph.level(number),
    lane: (number) => lanes.get(number),
    clock,
    logger,
    observer,
  });
  const lane = (number: string): NumberLane | undefined => {
    let l = lanes.get(number);
    if (!l) {
      const entry = directory.get(number);
      if (!entry) return undefined;
      l = new NumberLane(
        number,
        { mps: throughput.mpsOf(number) ?? entry.mps, pairPacing: entry.pairPacing },
        {
          marginMs: s.SENDER_RATE_MARGIN_MS,
          marginStepMs: 5,
          maxMarginMs: Math.max(s.SENDER_RATE_MARGIN_MS, s.SENDER_RATE_MARGIN_MAX_MS),
          marginRelaxAfterMs: s.SENDER_RATE_MARGIN_RELAX_MS,
          smoothingMs: s.SENDER_RATE_SMOOTHING_MS,
          leadMs: 20,
          maxPairBackoffMs: s.SENDER_PAIR_MAX_BACKOFF_MS,
          maxNumberBackoffMs: s.SENDER_NUMBER_MAX_BACKOFF_MS,
          reseedAfterIdleMs: 2_000,
        },
        clock,
        random,
        async (n, since) => attempts.recentCallTimes(n, new Date(since)),
        {
          ...observer,
          holdChanged(n, code, ended) {
            observer.holdChanged(n, code, ended);
            if (code !== undefined) return;
            logger.info(
              { businessNumber: n, code: ended },
              "Graph takes the number's sends again: hold ended",
            );
            // A maintenance ends (the throughput upgrade, most often): read the new level now.
            if (ended === 131057) void throughput.refresh(n);
          },
        },
      );
      lanes.set(number, l);
    }
    return l;
  };
  // Outcomes are not produced here: each goes into a Kafka transaction, its record's or the
  // outbox's (ADR 0006, "Exactly one outcome record").
  const encode = (event: AnyEvent) => {
    const topic = catalog.topicOf(event.type);
    return producer.output(topic, { key: topic.keyOf(event), event });
  };
  const parkStore = createMongoParkStore(db);
  const dispatchTopic = catalog.topic("dispatch");
  const topicAdmin = createDispatchTopicAdmin(kafka, dispatchTopic.name);
  /** The dispatch topic's partition count as the broker has it (the catalog's until read). */
  let dispatchPartitions = dispatchTopic.partitions;
  const parking = createParking({
    store: parkStore,
    lane,
    handle: (d, signal, parkedFrom) => handle(d, signal, outbox.parked(parkedFrom)),
    assignment: () => dispatch.assignment(dispatchTopic.name),
    observer,
    logger,
    // Parked dispatches drain beside fresh work, within the same order of magnitude.
    maxInFlight: Math.max(1, Math.min(500, Math.floor(s.SENDER_MAX_IN_FLIGHT / 4))),
    ...(s.SENDER_PARK_ABOVE > 0
      ? {
          overflow: {
            above: Math.max(
              1,
              Math.min(s.SENDER_PARK_ABOVE, Math.floor(s.SENDER_MAX_IN_FLIGHT / 4)),
            ),
            shared: sharesPartition(
              () => directory.numbers.map((n) => n.phoneNumberId),
              () => dispatchPartitions,
            ),
          },
        }
      : {}),
    consumer: {
      mainPending: (partition, number, recipient) =>
        dispatch.pending(dispatchTopic.name, partition, number, recipient),
      asidePending: (number) =>
        dispatch
          .assignment(dispatchTopic.name)
          .partitions.reduce(
            (sum, partition) =>
              sum + dispatch.setAsidePending(dispatchTopic.name, partition, number),
            0,
          ),
    },
    committed: (partition) => topicAdmin.committed(dispatch.groupId, partition),
  });
  const handle = createDispatchHandler({
    lane,
    parking,
    attempts,
    gates,
    graph: graph.send,
    permits: new CallPermits(s.SENDER_GRAPH_CONNECTIONS),
    clock,
    random,
    policy: {
      retry: {
        maxAttempts: s.SENDER_RETRY_ATTEMPTS,
        initialDelayMs: s.SENDER_RETRY_INITIAL_MS,
        maxDelayMs: s.SENDER_RETRY_MAX_MS,
      },
      maxPacedAttempts: s.SENDER_MAX_PACED_ATTEMPTS,
    },
    callBoundMs: s.SENDER_GRAPH_TIMEOUT_MS + 5_000,
    windowRecheckMs: s.SENDER_WINDOW_RECHECK_MS,
    gateFreshMs: s.SENDER_GATE_RECHECK_AFTER_MS,
    observer,
    logger,
    afterInDoubt: (requestId, outlet) => reconciler.settlePending(requestId, outlet),
  });
  const reconciler = createReconciler({
    attempts,
    clock,
    callBoundMs: s.SENDER_GRAPH_TIMEOUT_MS + 5_000,
    logger,
    onOutcome: (t) => {
      observer.outcomeOnly(t);
    },
  });
  const outbox = createOutbox({
    attempts,
    commit: async (partition, events) =>
      dispatch.publishWith(dispatchTopic.name, partition, await Promise.all(events.map(encode))),
    partitionOf: (number) => partitionOfKey(number, dispatchPartitions),
    owns: (partition) => dispatch.assignment(dispatchTopic.name).partitions.includes(partition),
    dispatchTopic: dispatchTopic.name,
    clock,
    graceMs: OUTBOX_GRACE_MS,
    logger,
  });
  const common = { kafka, serde, catalog, logger };
  const dispatch = createDispatchConsumer({
    ...common,
    handle,
    parking,
    outputs: {
      encode,
      transactional: beforeDispatchCommit ? { beforeCommit: beforeDispatchCommit } : {},
    },
    outboxOf: (partition) => outbox.outlet(partition),
    tuning: {
      maxInFlight: s.SENDER_MAX_IN_FLIGHT,
      // One partition's backlog (a number sending at its cap) takes at most half: the numbers on
      // the other partitions keep being fetched meanwhile (ADR 0006). Half of that half is still
      // a 1,000 msg/s number's sends for the fetch wait (500 ms) at the default 2,000.
      maxInFlightPerPartition: Math.max(1, Math.floor(s.SENDER_MAX_IN_FLIGHT / 2)),
    },
  });
  const gateConsumer = createGateConsumer({ ...common, gates });
  const statuses = createStatusConsumer({
    ...common,
    outputs: { encode },
    onStatus: (e, outlet, signal) => reconciler.status(e, outlet, signal),
  });
  const numbersConsumer = createNumbersConsumer({
    ...common,
    onQuality: (e) => throughput.quality(e),
  });
  const timers: NodeJS.Timeout[] = [];

  return {
    dispatch,
    lanes,
    throughput,
    /** Numbers Graph holds now (130429, 4, 80007, 131057), for tests and operators. */
    held(): { number: string; code: number }[] {
      return [...lanes.values()].flatMap((l) =>
        l.heldBy === undefined ? [] : [{ number: l.number, code: l.heldBy }],
      );
    },
    /** Numbers paused on a refused token, with their parked dispatches, for readiness and tests. */
    paused(): { number: string; code: number; since: number; parked: number }[] {
      return [...lanes.values()].flatMap((l) =>
        l.paused
          ? [
              {
                number: l.number,
                code: l.paused.code,
                since: l.paused.since,
                parked: parking.parked(l.number),
              },
            ]
          : [],
      );
    },
    /** Dispatches parked for a number on this instance (0 once drained). */
    parked: (number: string): number => parking.parked(number),
    async start(): Promise<void> {
      try {
        dispatchPartitions = (await topicAdmin.partitionCount()) || dispatchPartitions;
      } catch (error) {
        logger.warn(
          { topic: dispatchTopic.name, err: String(error) },
          "could not read the dispatch topic's partition count; numbers sharing a partition are judged by the catalog's",
        );
      }
      await attempts.ensureIndexes();
      await parkStore.ensureIndexes();
      // What other instances learned, then Graph's own word (in the background: a number
      // Graph cannot be asked about keeps its configured rate meanwhile).
      await throughput.poll();
      void throughput.refreshAll();
      await gateConsumer.start();
      await statuses.start();
      await numbersConsumer.start();
      await dispatch.start();
      timers.push(
        setInterval(() => {
          reconciler
            .sweep(s.SENDER_IN_DOUBT_TIMEOUT_MS, (a) => outbox.of(a))
            .catch((error: unknown) => {
              logger.warn({ err: String(error) }, "in-doubt sweep failed; next round retries");
            });
        }, s.SENDER_IN_DOUBT_SWEEP_MS),
        setInterval(() => {
          for (const l of lanes.values()) {
            l.sweep();
            if (!l.paused) continue;
            void graph.probe(l.number).then((ok) => {
              if (!ok) return;
              logger.info({ businessNumber: l.number }, "token accepted again: number resumed");
              l.resume();
              parking.resumed(l.number);
            });
          }
        }, s.SENDER_PAUSE_PROBE_MS),
        // Parks and outbox outcomes left by an earlier owner of these partitions (a restart, a
        // rebalance).
        setInterval(() => {
          parking.sweep().catch((error: unknown) => {
            logger.warn({ err: String(error) }, "park sweep failed; next round retries");
          });
          outbox.sweep().catch((error: unknown) => {
            logger.warn({ err: String(error) }, "outbox sweep failed; next round retries");
          });
        }, s.SENDER_PARK_SWEEP_MS),
        setInterval(() => {
          throughput.poll().catch((error: unknown) => {
            logger.warn({ err: String(error) }, "throughput poll failed; next round retries");
          });
        }, THROUGHPUT_POLL_MS),
      );
      if (s.SENDER_THROUGHPUT_REFRESH_MS > 0)
        timers.push(
          setInterval(() => {
            void throughput.refreshAll();
          }, s.SENDER_THROUGHPUT_REFRESH_MS),
        );
    },
    async stop(): Promise<void> {
      for (const t of timers) clearInterval(t);
      await parking.stop();
      for (const l of lanes.values()) l.close();
      // In parallel: each consumer's stop is bounded on its own (a broker outage can stall a
      // disconnect), and three in a row could outlast the shutdown deadline.
      await Promise.all([
        dispatch.stop(),
        statuses.stop(),
        gateConsumer.stop(),
        numbersConsumer.stop(),
      ]);
      await topicAdmin.close();
      await graph.close();
    },
  };
}

export type Sender = ReturnType<typeof createSender>;
