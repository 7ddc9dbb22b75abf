/**
 * A business number's throughput as Meta states it: `GET /{phone-number-id}?fields=throughput`
 * answers `{"throughput":{"level":"STANDARD"}}` (80 msg/s) or HIGH (1,000 msg/s, after the
 * automatic upgrade); coexistence numbers are held at 20 (reference §3.1).
 */
export type ThroughputLevel = "STANDARD" | "HIGH";

export const LEVEL_MPS: Readonly<Record<ThroughputLevel, number>> = { STANDARD: 80, HIGH: 1_000 };
export const COEXISTENCE_MPS = 20;

/** Graph's level string, or undefined for one Parley does not know (then nothing changes). */
export function levelOf(value: unknown): ThroughputLevel | undefined {
  return value === "STANDARD" || value === "HIGH" ? value : undefined;
}

export interface NumberLimits {
  /** The operator's `mps` for the number, if set: a ceiling, never exceeded. */
  readonly ceiling: number | undefined;
  /** The rate to use while Meta's level is not known yet (the ceiling, or Meta's default). */
  readonly initial: number;
  readonly coexistence: boolean;
}

/**
 * The cap the sender applies: Meta's level, never above the configured ceiling (nor above 20
 * for a coexistence number). Before the level is known, the configured rate (or Meta's default).
 */
export function effectiveMps(level: ThroughputLevel | undefined, limits: NumberLimits): number {
  const meta =
    level === undefined ? limits.initial : Math.min(LEVEL_MPS[level], limits.ceiling ?? Infinity);
  return limits.coexistence ? Math.min(meta, COEXISTENCE_MPS) : meta;
}

export type QualityAction =
  /** Meta said the number was upgraded: apply HIGH now (Graph confirms on the next refresh). */
  | { readonly kind: "level"; readonly level: ThroughputLevel }
  /** Something about the number changed (a downgrade, a flag...): read its level from Graph. */
  | { readonly kind: "refresh" };

/** What a `phone_number_quality_update` webhook means for the number's rate. */
export function qualityAction(event: string): QualityAction {
  return event === "THROUGHPUT_UPGRADE" ? { kind: "level", level: "HIGH" } : { kind: "refresh" };
}
