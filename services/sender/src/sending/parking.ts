import type { EventOf } from "@parley/contracts";
import { KeyedQueue } from "@parley/kafka";
import type { RecordAt } from "../adapters/kafka/consumers.js";
import type { ParkStore } from "../adapters/store/park-store.js";
import type { NumberLane } from "./lanes.js";
import { DeadLetterError, type ParkingPort, type SenderLogger } from "./dispatch-handler.js";
import { StoppedError } from "./sleep.js";

export interface ParkingObserver {
  parkedChanged(number: string, count: number): void;
}

export interface ParkingDeps {
  readonly store: ParkStore;
  readonly lane: (number: string) => NumberLane | undefined;
  /**
   * Runs a parked dispatch as the consumer would (it parks again, and stays, when its number
   * pauses again): "parked" then, "finished" once it has its outcome. A DeadLetterError is a
   * finished request too (its SendFailed is published).
   */
  readonly handle: (
    dispatch: EventOf<"DispatchMessage">,
    signal: AbortSignal,
  ) => Promise<"finished" | "parked">;
  /** This instance's partitions of the dispatch topic, and a count that moves on whenever they may have. */
  readonly assignment: () => { readonly partitions: readonly number[]; readonly joins: number };
  readonly observer: ParkingObserver;
  readonly logger: SenderLogger;
  /** Parked dispatches handled at once while a number drains. */
  readonly maxInFlight: number;
  readonly pageSize?: number;
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
}

/**
 * Durable parking for paused numbers. A number paused on a refused token (0/190) would
 * otherwise keep its dispatches unfinished in memory: uncommitted, filling the consumer's
 * in-flight bound and holding up every other number of the instance. Instead each one is
 * written to the park store and its record completes (its offset commits). Once the number
 * sends again (the probe succeeded, or a new owner found a backlog) the park drains in record
 * order, each recipient in order and recipients in parallel, through the same handler, while new
 * dispatches of the number keep parking behind it: per-contact order holds across the pause.
 * Handling stays idempotent through the attempt store, so a crash mid-drain sends nothing twice.
 */
export function createParking(deps: ParkingDeps) {
  const { store, observer, logger } = deps;
  const states = new Map<string, NumberState>();
  const loading = new Map<string, Promise<NumberState>>();
  const stopping = new AbortController();
  const pageSize = deps.pageSize ?? 200;

  const owns = (partition: number): boolean => deps.assignment().partitions.includes(partition);

  const load = async (number: string): Promise<NumberState> => {
    const joins = deps.assignment().joins;
    const known = states.get(number);
    // Ownership may have moved and come back: another owner may have parked meanwhile.
    if (known && (known.joins === joins || known.draining || known.pending > 0)) return known;
    let pendingLoad = loading.get(number);
    if (!pendingLoad) {
      pendingLoad = store
        .count(number)
        .then((count) => {
          const state: NumberState = {
            holding: count > 0 || (known?.holding ?? false),
            count,
            begun: known?.begun ?? 0,
            pending: known?.pending ?? 0,
            joins,
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
  ): Promise<void> => {
    // Synchronously with the decision to park: a drain that looks now sees this park coming.
    state.holding = true;
    state.begun++;
    state.pending++;
    try {
      const added = await store.park({
        requestId: dispatch.data.requestId,
        number,
        partition: at.partition,
        offset: at.offset,
        recipient: dispatch.data.to,
        dispatch,
        parkedAt: new Date(),
      });
      if (added) {
        state.count++;
        observer.parkedChanged(number, state.count);
        if (state.count === 1)
          logger.warn(
            { businessNumber: number, requestId: dispatch.data.requestId },
            "number paused: its dispatches are parked in sender_parked until it sends again",
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
    const queue = new KeyedQueue();
    let inFlight = 0;
    let roomFreed: (() => void) | undefined;
    let halted = false;
    let sent = 0;
    let after = -1;
    logger.info({ businessNumber: number, parked: state.count }, "sending parked dispatches");
    const one = async (requestId: string, dispatch: EventOf<"DispatchMessage">) => {
      try {
        if (halted || signal.aborted) return;
        let result: "finished" | "parked";
        try {
          result = await deps.handle(dispatch, signal);
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
        inFlight--;
        roomFreed?.();
        roomFreed = undefined;
      }
    };
    // A call, not a narrowed variable: `one` halts from its own promise chain.
    const stopped = (): boolean => halted || signal.aborted || lane?.paused !== undefined;
    while (!stopped()) {
      const page = await store.next(number, after, pageSize);
      if (page.length === 0) {
        await queue.drain();
        if (stopped()) break;
        // All taken so far is done: one look from the start for anything parked meanwhile.
        const begun = state.begun;
        const rest = await store.next(number, -1, 1);
        if (rest.length === 0 && state.pending === 0 && state.begun === begun) {
          state.holding = false;
          break;
        }
        after = -1;
        if (rest.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      for (const p of page) {
        after = p.offset;
        if (!owns(p.partition)) {
          // The number's partition moved to another instance: its new owner drains the park.
          halted = true;
          break;
        }
        while (inFlight >= deps.maxInFlight)
          await new Promise<void>((resolve) => (roomFreed = resolve));
        if (stopped()) break;
        inFlight++;
        void queue.run(p.recipient, () => one(p.requestId, p.dispatch));
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

  const port: ParkingPort = {
    async admit(number, at, dispatch) {
      const state = await load(number);
      if (!state.holding && !deps.lane(number)?.paused) return false;
      await parkNow(state, number, at, dispatch);
      return true;
    },
    async park(number, at, dispatch) {
      await parkNow(await load(number), number, at, dispatch);
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
