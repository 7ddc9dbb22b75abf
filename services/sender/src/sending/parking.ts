import { setMaxListeners } from "node:events";
import type { EventOf } from "@parley/contracts";
import type { DispatchParking, KeyedRunner, ParkedDispatch, ParkStore, RecordAt } from "./ports.js";
import type { NumberLane } from "./lanes.js";
import { DeadLetterError, type SenderLogger } from "./dispatch-handler.js";
import { answered, StoppedError } from "./sleep.js";

export interface ParkingObserver {
  parkedChanged(number: string, count: number): void;
}

export interface ParkingDeps {
  readonly store: ParkStore;
  readonly lane: (number: string) => NumberLane | undefined;
  /**
   * Runs a parked dispatch as the consumer would (it parks again, and stays, when its number
   * pauses again), with the place of the record it was parked from: "parked" then, "finished"
   * once it has its outcome. A DeadLetterError is a
   * finished request too (its SendFailed is published).
   */
  readonly handle: (
    dispatch: EventOf<"DispatchMessage">,
    signal: AbortSignal,
    parkedFrom: RecordAt,
  ) => Promise<"finished" | "parked">;
  /** This instance's partitions of the dispatch topic, and a count that moves on whenever they may have. */
  readonly assignment: () => { readonly partitions: readonly number[]; readonly joins: number };
  /** A per-key task queue: a draining number's recipients each go in order. */
  readonly keyedRunner: () => KeyedRunner;
  readonly observer: ParkingObserver;
  readonly logger: SenderLogger;
  /** Parked dispatches handled at once while a number drains. */
  readonly maxInFlight: number;
  readonly pageSize?: number;
  /**
   * Overflow parking: a number whose dispatch partition carries other numbers of the directory
   * keeps at most `above` of its dispatches in memory; the next ones park and drain from the
   * park, so its backlog never holds up the partition's other numbers. Absent: only paused
   * numbers park.
   */
  readonly overflow?: {
    readonly above: number;
    readonly shared: (number: string, partition: number) => boolean;
  };
  /**
   * The offset the dispatch consumer group resumes `partition` from (its committed offset). A
   * parked record below it is never delivered again; one at or above it is, and the drain waits
   * for that delivery, so a record of the same recipient still ahead of it in the topic (left in
   * memory by a crashed or previous owner) parks first. Absent: every parked record is taken as
   * committed.
   */
  readonly committed?: (partition: number) => Promise<number>;
  /**
   * The dispatch consumer's own view: records of a recipient still on its main track (taken,
   * unfinished, not set aside), which a parked dispatch of that recipient waits for; and the
   * number's records set aside and not yet parked, which a drain waits for before it ends.
   * Absent: none.
   */
  readonly consumer?: {
    readonly mainPending: (partition: number, number: string, recipient: string) => number;
    readonly asidePending: (number: string) => number;
  };
  /**
   * How long the dispatch consumer's set-aside decision waits for a number's park count before
   * it fails as an outage (retried; the next decision reads again). Every record of the number
   * waits behind it: without a bound one reply lost on its way stalled the number for good
   * (default 10 s; 0: no bound).
   */
  readonly storeBoundMs?: number;
}

interface NumberState {
  /** While true, every new dispatch of the number parks: parked ones are still ahead of it. */
  holding: boolean;
  count: number;
  /** Parks ever begun, and those still unfinished: a drain ends only when none began while it looked. */
  begun: number;
  pending: number;
  /** The group generation this state was read in; a rebalance reads it again. */
  joins: number;
  draining?: Promise<void> | undefined;
  /**
   * The lowest offset parked since the running drain last read. Parks of different recipients
   * land in any order; when one lands below what the drain is about to take, it reads again
   * from there, so none is passed over while a later one of its recipient goes out.
   */
  rewind: number | undefined;
  /** What made it park: the number is paused, or its backlog overflowed a shared partition. */
  reason: "paused" | "overflow";
}

/**
 * Durable parking for paused and overflowing numbers. A number paused on a refused token (0/190)
 * would otherwise keep its dispatches unfinished in memory: uncommitted, filling the consumer's
 * in-flight bound and holding up every other number of the instance. A number with a long
 * backlog (a campaign at its cap) would fill its partition's in-flight bound and hold up the
 * other numbers of that partition. Instead each further dispatch is written to the park store
 * and its record completes (its offset commits). The park drains in record order, each recipient
 * in order and recipients in parallel, through the same handler, while new dispatches of the
 * number keep parking behind it: per-contact order holds across the pause or the overflow.
 * Handling stays idempotent through the attempt store, so a crash mid-drain sends nothing twice.
 *
 * Order rests on the consumer handling one recipient's records one after another: a record of
 * a recipient parks only once the one before it finished or parked. The drain reads again from
 * any park that lands below what it is about to take, and takes a record parked in an earlier group
 * generation (a restart, a rebalance) only once the topic delivered it again or it lies below
 * the committed offset, so anything of its recipient ahead of it has parked first.
 */
export function createParking(deps: ParkingDeps) {
  const { store, observer, logger } = deps;
  const states = new Map<string, NumberState>();
  const loading = new Map<string, Promise<NumberState>>();
  const stopping = new AbortController();
  // Every parked dispatch being handled listens for shutdown on this one signal.
  setMaxListeners(0, stopping.signal);
  const pageSize = deps.pageSize ?? 200;
  /** Parked records the topic delivered in this group generation (drainable at once). */
  let seen = { joins: -1, ids: new Set<string>() };
  const committedCache = new Map<number, { joins: number; offset: number }>();

  const owns = (partition: number): boolean => deps.assignment().partitions.includes(partition);

  const seenIds = (): Set<string> => {
    const joins = deps.assignment().joins;
    if (seen.joins !== joins) seen = { joins, ids: new Set() };
    return seen.ids;
  };

  const committedOf = async (partition: number, refresh: boolean): Promise<number> => {
    const joins = deps.assignment().joins;
    const known = committedCache.get(partition);
    if (known && known.joins === joins && !refresh) return known.offset;
    if (!deps.committed) return Number.POSITIVE_INFINITY;
    try {
      const offset = await deps.committed(partition);
      committedCache.set(partition, { joins, offset });
      return offset;
    } catch (error) {
      logger.warn(
        { partition, err: String(error) },
        "could not read the dispatch consumer's committed offset; the drain waits and asks again",
      );
      return -1;
    }
  };

  const load = async (number: string): Promise<NumberState> => {
    const joins = deps.assignment().joins;
    const known = states.get(number);
    // Ownership may have moved and come back: another owner may have parked meanwhile.
    if (known && (known.joins === joins || known.draining || known.pending > 0)) return known;
    let pendingLoad = loading.get(number);
    if (!pendingLoad) {
      pendingLoad = answered(
        store.count(number),
        `the park count of ${number}`,
        deps.storeBoundMs ?? 10_000,
        stopping.signal,
      )
        .then((count) => {
          const state: NumberState = {
            holding: count > 0 || (known?.holding ?? false),
            count,
            begun: known?.begun ?? 0,
            pending: known?.pending ?? 0,
            joins,
            rewind: undefined,
            reason: known?.reason ?? "paused",
          };
          states.set(number, state);
          observer.parkedChanged(number, count);
          if (count > 0) startDrain(number, state);
          return state;
        })
        .finally(() => loading.delete(number));
      loading.set(number, pendingLoad);
    }
    return pendingLoad;
  };

  const parkNow = async (
    state: NumberState,
    number: string,
    at: RecordAt,
    dispatch: EventOf<"DispatchMessage">,
    why: "paused" | "overflow",
  ): Promise<void> => {
    // Synchronously with the decision to park: a drain that looks now sees this park coming.
    state.holding = true;
    state.begun++;
    state.pending++;
    const requestId = dispatch.data.requestId;
    try {
      const added = await store.park({
        requestId,
        number,
        partition: at.partition,
        offset: at.offset,
        recipient: dispatch.data.to,
        dispatch,
        parkedAt: new Date(),
      });
      seenIds().add(requestId);
      if (added) {
        if (state.draining) state.rewind = Math.min(state.rewind ?? at.offset, at.offset);
        state.count++;
        observer.parkedChanged(number, state.count);
        if (state.count === 1)
          logger.warn(
            { businessNumber: number, requestId, reason: why },
            why === "paused"
              ? "number paused: its dispatches are parked in sender_parked until it sends again"
              : "number's backlog is over SENDER_PARK_ABOVE on a dispatch partition it shares: its next dispatches are parked in sender_parked and go out from there in order",
          );
      }
    } finally {
      state.pending--;
    }
  };

  const drain = async (number: string, state: NumberState): Promise<void> => {
    // No lane: the number left the directory since it parked; the handler rejects each of its
    // dispatches (unknown_sender), so none is left behind without an outcome.
    const lane = deps.lane(number);
    const signal = stopping.signal;
    const queue = deps.keyedRunner();
    /** Taken from the park and not finished yet (their documents are still there). */
    const queued = new Set<string>();
    let inFlight = 0;
    let roomFreed: (() => void) | undefined;
    let halted = false;
    let sent = 0;
    logger.info({ businessNumber: number, parked: state.count }, "sending parked dispatches");
    const one = async (p: ParkedDispatch) => {
      const { requestId, dispatch } = p;
      try {
        // A record of its recipient still on the consumer's main track is ahead of it (it was
        // taken before the number began to park): it goes first. Other recipients go on.
        while (
          !halted &&
          !signal.aborted &&
          (deps.consumer?.mainPending(p.partition, number, p.recipient) ?? 0) > 0
        )
          await new Promise((resolve) => setTimeout(resolve, 20));
        if (halted || signal.aborted) return;
        let result: "finished" | "parked";
        try {
          result = await deps.handle(dispatch, signal, {
            partition: p.partition,
            offset: p.offset,
          });
        } catch (error) {
          if (!(error instanceof DeadLetterError)) throw error;
          logger.error(
            { businessNumber: number, requestId, err: String(error) },
            "parked dispatch failed for good; its SendFailed outcome is published",
          );
          result = "finished";
        }
        if (result === "parked") {
          halted = true;
          return;
        }
        await store.remove(requestId);
        seenIds().delete(requestId);
        state.count = Math.max(0, state.count - 1);
        observer.parkedChanged(number, state.count);
        sent++;
      } catch (error) {
        halted = true;
        if (!(error instanceof StoppedError))
          logger.warn(
            { businessNumber: number, requestId, err: String(error) },
            "a parked dispatch could not be handled; the park stays and is tried again",
          );
      } finally {
        queued.delete(requestId);
        inFlight--;
        roomFreed?.();
        roomFreed = undefined;
      }
    };
    // A call, not a narrowed variable: `one` halts from its own promise chain.
    const stopped = (): boolean => halted || signal.aborted || lane?.paused !== undefined;
    /**
     * True once `p` may go: the topic delivered its record again in this generation (so every
     * record of its recipient ahead of it has finished or parked), or it lies below the
     * committed offset (never delivered again). False when the drain stops meanwhile.
     */
    const ready = async (p: ParkedDispatch): Promise<boolean> => {
      for (let round = 0; ; round++) {
        if (stopped()) return false;
        if (!owns(p.partition)) {
          // The number's partition moved to another instance: its new owner drains the park.
          halted = true;
          return false;
        }
        if (seenIds().has(p.requestId)) return true;
        // Asked again every second while waiting: the committed offset moves on.
        if (p.offset < (await committedOf(p.partition, round > 0 && round % 50 === 0))) return true;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    // A call, not a narrowed field: parks set it while the drain waits.
    const rewound = (): number | undefined => state.rewind;
    let after = -1;
    while (!stopped()) {
      // Landed behind what was taken since the last read: read again from it.
      const behind = rewound();
      if (behind !== undefined && behind <= after) after = behind - 1;
      state.rewind = undefined;
      const page = (await store.next(number, after, pageSize + queued.size))
        .filter((p) => !queued.has(p.requestId))
        .slice(0, pageSize);
      const last = page.at(-1)?.offset ?? -1;
      const landed = rewound();
      if (landed !== undefined && landed <= last) {
        // A park landed while the page was read, below its end: read again from it.
        after = Math.min(after, landed - 1);
        continue;
      }
      if (page.length === 0) {
        await queue.drain();
        if (stopped()) break;
        // All taken so far is done: one look from the start for anything parked meanwhile.
        const begun = state.begun;
        const rest = await store.next(number, -1, 1);
        if (
          rest.length === 0 &&
          state.pending === 0 &&
          state.begun === begun &&
          (deps.consumer?.asidePending(number) ?? 0) === 0
        ) {
          state.holding = false;
          break;
        }
        after = -1;
        if (rest.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      for (const p of page) {
        if (!(await ready(p))) break;
        while (inFlight >= deps.maxInFlight)
          await new Promise<void>((resolve) => (roomFreed = resolve));
        if (stopped()) break;
        const ahead = rewound();
        if (ahead !== undefined && ahead < p.offset) {
          // Parked meanwhile ahead of this one: take that first.
          after = Math.min(after, ahead - 1);
          break;
        }
        after = p.offset;
        inFlight++;
        queued.add(p.requestId);
        void queue.run(p.recipient, () => one(p));
      }
    }
    await queue.drain();
    logger.info(
      { businessNumber: number, sent, stillParked: state.count, holding: state.holding },
      state.holding ? "parked dispatches wait (number paused or moved)" : "park drained",
    );
  };

  function startDrain(number: string, state: NumberState): void {
    if (state.draining || stopping.signal.aborted || deps.lane(number)?.paused) return;
    state.draining = drain(number, state)
      .catch((error: unknown) => {
        logger.warn(
          { businessNumber: number, err: String(error) },
          "draining parked dispatches failed; the next sweep tries again",
        );
      })
      .finally(() => {
        state.draining = undefined;
      });
  }

  const port: DispatchParking = {
    async setAside(number, at, inFlight) {
      // Unknown numbers stay on the main track, whose handler rejects them.
      if (!deps.lane(number)) return undefined;
      const state = await load(number);
      if (deps.lane(number)?.paused !== undefined) state.reason = "paused";
      else if (!state.holding) {
        const overflow = deps.overflow;
        if (
          overflow === undefined ||
          inFlight < overflow.above ||
          !overflow.shared(number, at.partition)
        )
          return undefined;
        state.reason = "overflow";
      }
      // Synchronously with the decision: the records after this one park too, and a drain
      // that looks now knows a park is coming.
      state.holding = true;
      state.begun++;
      startDrain(number, state);
      return state.reason;
    },
    async park(number, at, dispatch, why) {
      await parkNow(await load(number), number, at, dispatch, why);
    },
  };

  return {
    ...port,
    /** The number sends again (its token was accepted): its park drains. */
    resumed(number: string): void {
      const state = states.get(number);
      if (state?.holding) startDrain(number, state);
    },
    /** Parked dispatches on this instance's partitions with no drain running: drain them. */
    async sweep(): Promise<void> {
      const { partitions } = deps.assignment();
      for (const b of await store.backlog()) {
        if (!b.partitions.some((p) => partitions.includes(p))) continue;
        const state = await load(b.number);
        state.holding = true;
        startDrain(b.number, state);
      }
    },
    parked(number: string): number {
      return states.get(number)?.count ?? 0;
    },
    async stop(): Promise<void> {
      stopping.abort();
      await Promise.all([...states.values()].flatMap((s) => (s.draining ? [s.draining] : [])));
    },
  };
}
