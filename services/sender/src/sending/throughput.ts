import type { EventOf } from "@parley/contracts";
import type { NumberDirectory } from "@parley/numbers";
import type { ThroughputStore } from "../domain/ports.js";
import {
  effectiveMps,
  levelOf,
  qualityAction,
  type NumberLimits,
  type ThroughputLevel,
} from "../domain/throughput.js";
import type { SenderLogger } from "./dispatch-handler.js";

export interface ThroughputDeps {
  readonly directory: NumberDirectory;
  readonly store: ThroughputStore;
  /** Graph's `GET /{phone-number-id}?fields=throughput` level (rejects when Graph says no). */
  readonly readLevel: (number: string) => Promise<string>;
  /** The number's lane, if this instance has one: its cap changes at once. */
  readonly lane: (
    number: string,
  ) => { setMps(mps: number): void; readonly mps: number } | undefined;
  readonly clock: () => number;
  readonly logger: SenderLogger;
  readonly observer?: { throughput(number: string, mps: number): void };
}

/**
 * Each business number's cap as Meta reports it (ADR 0006): the level from Graph's phone-number
 * fields (at start, periodically, after a maintenance hold ends and on quality webhooks) and
 * THROUGHPUT_UPGRADE webhooks, kept in MongoDB so every instance applies what any instance
 * heard, at once and without a restart. The directory's `mps` is a ceiling.
 */
export function createThroughput(deps: ThroughputDeps) {
  const { directory, store, clock, logger } = deps;
  const levels = new Map<string, ThroughputLevel>();

  const limitsOf = (number: string): NumberLimits | undefined => {
    const entry = directory.get(number);
    if (!entry) return undefined;
    return { ceiling: entry.mpsCeiling, initial: entry.mps, coexistence: entry.coexistence };
  };

  /** The cap to use for `number` now (its level if known, else the configured rate). */
  const mpsOf = (number: string): number | undefined => {
    const limits = limitsOf(number);
    return limits === undefined ? undefined : effectiveMps(levels.get(number), limits);
  };

  const apply = (number: string, level: ThroughputLevel, source: string): void => {
    const before = levels.get(number);
    levels.set(number, level);
    const mps = mpsOf(number);
    const lane = deps.lane(number);
    if (mps === undefined) return;
    if (lane && lane.mps !== mps) {
      logger.info(
        { businessNumber: number, level, mps, was: lane.mps, source },
        "business number's throughput changed: its cap follows at once",
      );
      lane.setMps(mps);
    } else if (before !== level)
      logger.info({ businessNumber: number, level, mps, source }, "business number's throughput");
    deps.observer?.throughput(number, mps);
  };

  const learn = async (number: string, level: ThroughputLevel, source: string): Promise<void> => {
    await store.set(number, level, clock(), source);
    apply(number, level, source);
  };

  /**
   * Reads the level from Graph and applies it; never rejects: a failure (Graph says no, MongoDB
   * is down) keeps what is known, is logged, and the next refresh tries again.
   */
  const refresh = async (number: string): Promise<void> => {
    try {
      const raw = await deps.readLevel(number);
      const level = levelOf(raw);
      if (level === undefined) {
        logger.warn({ businessNumber: number, level: raw }, "unknown throughput level; ignored");
        return;
      }
      await learn(number, level, "graph");
    } catch (error) {
      logger.warn(
        { businessNumber: number, err: String(error) },
        "could not read the number's throughput from Graph; the known cap stays",
      );
    }
  };

  /** The numbers a quality webhook is about: its phone_number_id, else the display number, else its WABA's. */
  const numbersOf = (event: EventOf<"PhoneNumberQualityUpdated">): string[] => {
    const id = event.data.phoneNumberId;
    if (id !== undefined) return directory.get(id) ? [id] : [];
    const digits = event.data.displayPhoneNumber.replace(/\D/g, "");
    const byDisplay = directory.numbers.filter(
      (n) => n.displayPhoneNumber?.replace(/\D/g, "") === digits,
    );
    if (byDisplay.length > 0) return byDisplay.map((n) => n.phoneNumberId);
    return directory.inWaba(event.data.wabaId).map((n) => n.phoneNumberId);
  };

  return {
    mpsOf,
    refresh,

    /** Every number's level from Graph (at start and periodically). */
    async refreshAll(): Promise<void> {
      await Promise.all(directory.numbers.map((n) => refresh(n.phoneNumberId)));
    },

    /** What other instances stored meanwhile (a cheap read, every few seconds). */
    async poll(): Promise<void> {
      for (const { number, level } of await store.all())
        if (levels.get(number) !== level && directory.get(number)) apply(number, level, "store");
    },

    /** A phone_number_quality_update, from business-events. */
    async quality(event: EventOf<"PhoneNumberQualityUpdated">): Promise<void> {
      const action = qualityAction(event.data.event);
      for (const number of numbersOf(event)) {
        if (action.kind === "level") await learn(number, action.level, "webhook");
        else await refresh(number);
      }
    },
  };
}

export type Throughput = ReturnType<typeof createThroughput>;
