import type { AnyEvent } from "@parley/contracts";
import {
  OUTBOX,
  recordOrigin,
  type AttemptStore,
  type DispatchOutlet,
  type StoredAttempt,
} from "../domain/ports.js";
import type { SenderLogger } from "./dispatch-handler.js";
import type { RecordAt } from "./ports.js";

export interface OutboxDeps {
  readonly attempts: AttemptStore;
  /**
   * Commits `events` with the next Kafka transaction of dispatch partition `partition` (owned
   * here); resolves once committed, rejects when the partition is not owned or is lost first.
   */
  readonly commit: (partition: number, events: readonly AnyEvent[]) => Promise<void>;
  /** The dispatch partition a number's records go to. */
  readonly partitionOf: (number: string) => number;
  /** Whether this instance owns a dispatch partition now. */
  readonly owns: (partition: number) => boolean;
  /** The dispatch topic's name (a parked dispatch's origin names its record). */
  readonly dispatchTopic: string;
  readonly clock: () => number;
  /**
   * How long an outbox event stays pending before the sweep publishes it: longer than a live
   * owner takes from its transaction's commit to marking the event published, so the sweep
   * publishes only what a dead or dispossessed owner left (ADR 0006).
   */
  readonly graceMs: number;
  readonly logger: SenderLogger;
}

/**
 * Outcomes of no input record (a parked dispatch's, the in-doubt timeout's, a dead-lettered
 * dispatch's) go out through the outbox: stored on the attempt record as pending together with
 * the decision (one write), committed with the next transaction of an owned dispatch partition
 * (`ConsumerRunner.publishWith`), then marked published. What a crash or a lost partition leaves
 * pending, the sweep of the number's partition owner publishes after `graceMs`. Read-committed
 * consumers see each once, except when an owner dies (or loses the partition) in the moment
 * between its transaction's commit and the mark: then it is published once more, same event id.
 */
export function createOutbox(deps: OutboxDeps) {
  const { attempts, logger } = deps;
  /** Requests with an outbox publish under way here: the sweep leaves them alone. */
  const publishing = new Map<string, number>();

  const send = async (
    requestId: string,
    partition: number,
    events: readonly AnyEvent[],
  ): Promise<void> => {
    publishing.set(requestId, (publishing.get(requestId) ?? 0) + 1);
    try {
      await deps.commit(partition, events);
      await attempts.markPublished(
        requestId,
        events.map((e) => e.eventId),
      );
    } finally {
      const n = (publishing.get(requestId) ?? 1) - 1;
      if (n > 0) publishing.set(requestId, n);
      else publishing.delete(requestId);
    }
  };

  /** Publishes in the background: the events are stored as pending, so nothing waits for Kafka. */
  const sendLater = (requestId: string, partition: number, events: readonly AnyEvent[]): void => {
    send(requestId, partition, events).catch((error: unknown) => {
      logger.warn(
        { requestId, partition, err: String(error) },
        "outbox publish failed; the partition owner's outbox sweep publishes it",
      );
    });
  };

  const outlet = (partition: number, adopts?: string): DispatchOutlet => {
    const o: DispatchOutlet = {
      origin: OUTBOX,
      publish(requestId, events) {
        if (events.length > 0) sendLater(requestId, partition, events);
        return Promise.resolve();
      },
      // The outbox is its own: nothing here waits for a record's end.
      get outbox(): DispatchOutlet {
        return o;
      },
      ...(adopts === undefined ? {} : { adopts }),
    };
    return o;
  };

  return {
    /** The outbox on dispatch partition `partition` (the in-doubt timeout, a dead-lettered record). */
    outlet,
    /** The outlet of a dispatch drained from the park, parked from the record at `at`. */
    parked: (at: RecordAt) =>
      outlet(at.partition, recordOrigin(deps.dispatchTopic, at.partition, at.offset)),
    /** The outbox of the number's dispatch partition, if this instance owns it. */
    of(a: Pick<StoredAttempt, "number">): DispatchOutlet | undefined {
      const partition = deps.partitionOf(a.number);
      return deps.owns(partition) ? outlet(partition) : undefined;
    },
    /**
     * Publishes what earlier owners of this instance's partitions left pending (a crash, a lost
     * partition) for longer than the grace. Returns how many requests it published for.
     */
    async sweep(limit = 200): Promise<number> {
      const pending = await attempts.unpublishedBefore(
        new Date(deps.clock() - deps.graceMs),
        limit,
      );
      const sends: Promise<void>[] = [];
      for (const a of pending) {
        if (publishing.has(a.requestId)) continue;
        const partition = deps.partitionOf(a.number);
        if (!deps.owns(partition)) continue;
        const ids = new Set(a.unpublished);
        const events = a.outcomes.filter((o) => ids.has(o.eventId));
        logger.info(
          { requestId: a.requestId, businessNumber: a.number, events: events.length },
          "publishing outcomes an earlier owner left in the outbox",
        );
        // Ids of nothing (only a hand edit makes them) are cleared without a publish.
        sends.push(
          events.length === 0
            ? attempts.markPublished(a.requestId, a.unpublished)
            : send(a.requestId, partition, events),
        );
      }
      // Side by side: they all go in the partitions' next transactions.
      const results = await Promise.allSettled(sends);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      return sends.length;
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
