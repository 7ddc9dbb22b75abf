import type { NumberDirectory } from "@parley/numbers";
import type { Config } from "../config.js";
import type { AttemptStore, GateStore, ThroughputStore } from "../domain/ports.js";
import {
  createDispatchHandler,
  type SenderLogger,
  type SenderObserver,
} from "./dispatch-handler.js";
import { createOutbox } from "./outbox.js";
import { NumberLane, type LaneObserver } from "./lanes.js";
import { CallPermits } from "./permits.js";
import { createParking, type ParkingObserver } from "./parking.js";
import type {
  DispatchTopicAdmin,
  GraphClient,
  KeyedRunner,
  MediaResolver,
  ParkStore,
  SenderConsumers,
  SenderHandlers,
  TokenKeeper,
} from "./ports.js";
import { createReconciler } from "./reconcile.js";
import { createRevocationNotices } from "./revocations.js";
import { sharesPartition } from "./shared-partition.js";
import { createThroughput } from "./throughput.js";
import { createTokenWatch, type TokenObserver } from "./tokens.js";

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
  | "SENDER_ADMIT_AHEAD_MS"
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
  | "SENDER_STORE_READ_BOUND_MS"
  | "SENDER_WINDOW_RECHECK_MS"
  | "SENDER_GATE_RECHECK_AFTER_MS"
  | "SENDER_THROUGHPUT_REFRESH_MS"
  | "SENDER_TOKEN_CHECK_MS"
  | "SENDER_TOKEN_FILE_POLL_MS"
  | "SENDER_TOKEN_EXPIRY_WARN_DAYS"
> &
  Partial<Pick<Config, "PARLEY_AUTHENTICATION_EXEMPT">>;

/** Everything the sender reports (implemented by the Prometheus series in metrics.ts). */
export type SenderObservers = SenderObserver &
  LaneObserver &
  ParkingObserver &
  TokenObserver & {
    outcomeOnly(type: string): void;
    holdChanged(number: string, code: number | undefined, ended?: number): void;
    throughput(number: string, mps: number): void;
    /** The age of the oldest request in doubt, in seconds (0: none), after each in-doubt sweep. */
    inDoubtAge(seconds: number): void;
  };

export interface SenderDeps<C extends SenderConsumers = SenderConsumers> {
  readonly settings: SenderSettings;
  readonly directory: NumberDirectory;
  readonly stores: {
    readonly attempts: AttemptStore;
    readonly gates: GateStore;
    readonly parks: ParkStore;
    readonly throughput: ThroughputStore;
  };
  readonly graph: GraphClient;
  /** Each number's current token and its file's changes; none: the directory's, never re-read. */
  readonly tokens?: TokenKeeper | undefined;
  /** The media service, for messages naming Parley uploads (`up_...`); none: they fail without a call. */
  readonly media?: MediaResolver | undefined;
  /** The dispatch topic: its name, its catalog partition count, the broker's word on it. */
  readonly dispatchTopic: {
    readonly name: string;
    readonly partitions: number;
    readonly admin: DispatchTopicAdmin;
    /** The partition Parley's producers put a record key on, for a partition count. */
    readonly partitionOf: (key: string, partitions: number) => number;
  };
  /** Makes the consumers, from the handlers of each input topic. */
  readonly consumers: (handlers: SenderHandlers) => C;
  /** A per-key task queue (a parked number's drain runs each recipient in order). */
  readonly keyedRunner: () => KeyedRunner;
  readonly observer: SenderObservers;
  readonly logger: SenderLogger;
  /** Links a status's processing to its send's trace (invariant 12); none in unit tests. */
  readonly linkToSend?: (traceparent: string | undefined, requestId: string) => void;
  readonly clock?: () => number;
  readonly random?: () => number;
}

/**
 * The sender's parts wired together: the dispatch consumer (per-recipient concurrency) with
 * its lanes and Graph clients, the gate consumer, the status reconciler, the in-doubt sweeper,
 * the paused-number probe and the parking of paused numbers' dispatches. `start` and `stop` in
 * dependency order.
 */
export function createSender<C extends SenderConsumers>({
  settings: s,
  directory,
  stores,
  graph,
  tokens,
  media,
  dispatchTopic,
  consumers,
  keyedRunner,
  observer,
  logger,
  linkToSend,
  clock = () => Date.now(),
  random = Math.random,
}: SenderDeps<C>) {
  const { attempts, gates, parks: parkStore } = stores;
  const lanes = new Map<string, NumberLane>();
  const throughput = createThroughput({
    directory,
    store: stores.throughput,
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
          admitAheadMs: s.SENDER_ADMIT_AHEAD_MS,
          storeBoundMs: s.SENDER_STORE_READ_BOUND_MS,
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
        async (n, recipient, since) => attempts.recentPairCalls(n, recipient, new Date(since)),
        async (n, since) => attempts.latestCallAt(n, new Date(since)),
      );
      lanes.set(number, l);
    }
    return l;
  };
  const topicAdmin = dispatchTopic.admin;
  /** The dispatch topic's partition count as the broker has it (the catalog's until read). */
  let dispatchPartitions = dispatchTopic.partitions;
  const parking = createParking({
    store: parkStore,
    lane,
    handle: (d, signal, parkedFrom) => handle(d, signal, outbox.parked(parkedFrom)),
    assignment: () => dispatch.assignment(),
    keyedRunner,
    observer,
    logger,
    // Parked dispatches drain beside fresh work, within the same order of magnitude.
    maxInFlight: Math.max(1, Math.min(500, Math.floor(s.SENDER_MAX_IN_FLIGHT / 4))),
    storeBoundMs: s.SENDER_STORE_READ_BOUND_MS,
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
              dispatchTopic.partitionOf,
            ),
          },
        }
      : {}),
    consumer: {
      mainPending: (partition, number, recipient) => dispatch.pending(partition, number, recipient),
      asidePending: (number) =>
        dispatch
          .assignment()
          .partitions.reduce(
            (sum, partition) => sum + dispatch.setAsidePending(partition, number),
            0,
          ),
    },
    committed: (partition) => topicAdmin.committed(dispatch.groupId, partition),
  });
  // What this process's gates consumer applies is heard by its dispatches before their calls.
  const revocations = createRevocationNotices({ now: clock });
  const gatesHeard: GateStore = {
    view: (contactId, number) => gates.view(contactId, number),
    consent: async (contactId, change, scope, at) => {
      await gates.consent(contactId, change, scope, at);
      if (change === "revoked") revocations.heard(contactId, clock());
    },
    window: (contactId, number, expiresAt) => gates.window(contactId, number, expiresAt),
  };
  const handle = createDispatchHandler({
    lane,
    parking,
    attempts,
    gates,
    graph: graph.send,
    media,
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
    authenticationExempt: s.PARLEY_AUTHENTICATION_EXEMPT ?? false,
    gateFreshMs: s.SENDER_GATE_RECHECK_AFTER_MS,
    revocations,
    observer,
    logger,
    afterInDoubt: (requestId, outlet) => reconciler.settlePending(requestId, outlet),
    ...(tokens === undefined ? {} : { secretOf: (number: string) => tokens.secretOf(number) }),
  });
  /** A paused number's token is tried again (GET on the number): accepted, the number resumes. */
  const probePaused = (l: NumberLane): void => {
    if (!l.paused) return;
    void graph.probe(l.number).then((ok) => {
      if (!ok || !l.paused) return;
      logger.info({ businessNumber: l.number }, "token accepted again: number resumed");
      l.resume();
      parking.resumed(l.number);
    });
  };
  const tokenWatch = createTokenWatch({
    numbers: () => directory.numbers.map((n) => n.phoneNumberId),
    graph,
    keeper: tokens ?? {
      token: (n) => directory.get(n)?.accessToken ?? "",
      secretOf: () => undefined,
      poll: () => Promise.resolve([]),
    },
    clock,
    observer,
    logger,
    checkMs: s.SENDER_TOKEN_CHECK_MS,
    filePollMs: tokens === undefined ? 0 : s.SENDER_TOKEN_FILE_POLL_MS,
    warnDays: s.SENDER_TOKEN_EXPIRY_WARN_DAYS,
    tokenChanged: (number) => {
      const l = lanes.get(number);
      if (l) probePaused(l);
    },
  });
  const reconciler = createReconciler({
    attempts,
    clock,
    callBoundMs: s.SENDER_GRAPH_TIMEOUT_MS + 5_000,
    logger,
    ...(linkToSend === undefined ? {} : { linkToSend }),
    onOutcome: (t) => {
      observer.outcomeOnly(t);
    },
    onInDoubtAge: (seconds) => {
      observer.inDoubtAge(seconds);
    },
  });
  const outbox = createOutbox({
    attempts,
    commit: (partition, events) => dispatch.publishWith(partition, events),
    partitionOf: (number) => dispatchTopic.partitionOf(number, dispatchPartitions),
    owns: (partition) => dispatch.assignment().partitions.includes(partition),
    dispatchTopic: dispatchTopic.name,
    clock,
    graceMs: OUTBOX_GRACE_MS,
    logger,
  });
  const inputs = consumers({
    handle,
    parking,
    outboxOf: (partition) => outbox.outlet(partition),
    gates: gatesHeard,
    onStatus: (e, outlet, signal) => reconciler.status(e, outlet, signal),
    onQuality: (e) => throughput.quality(e),
  });
  const dispatch: C["dispatch"] = inputs.dispatch;
  const { gates: gateConsumer, statuses, numbers: numbersConsumer } = inputs;
  const timers: NodeJS.Timeout[] = [];

  return {
    dispatch,
    lanes,
    throughput,
    /** Each number's token checks and file polls (tests run a round at once). */
    tokenWatch,
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
      tokenWatch.start();
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
            probePaused(l);
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
      tokenWatch.stop();
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

/** A sender over consumers of type `C` (its `dispatch` is theirs: the Kafka adapter's has stats). */
export type Sender<C extends SenderConsumers = SenderConsumers> = ReturnType<
  typeof createSender<C>
>;
