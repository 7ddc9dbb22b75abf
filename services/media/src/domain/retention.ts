import type { MediaKind } from "./media-object.js";

/**
 * How long stored media is kept: a number of days per media kind, optionally per business
 * number (a number's rule wins over its kind's). 0 days keeps forever.
 */
export interface RetentionPolicy {
  readonly defaultDays: number;
  readonly byKind?: Partial<Readonly<Record<MediaKind | "upload", number | undefined>>>;
  readonly byNumber?: Readonly<Record<string, number>>;
}

export interface RetentionRule {
  readonly days: number;
  /** Named in MediaDeleted: `retention:<kind>:<days>d` or `retention:number:<id>:<days>d`. */
  readonly policy: string;
}

export function retentionOf(
  policy: RetentionPolicy,
  kind: MediaKind | "upload",
  businessNumber: string | undefined,
): RetentionRule {
  const byNumber = businessNumber === undefined ? undefined : policy.byNumber?.[businessNumber];
  if (byNumber !== undefined && businessNumber !== undefined)
    return { days: byNumber, policy: `retention:number:${businessNumber}:${String(byNumber)}d` };
  const days = policy.byKind?.[kind] ?? policy.defaultDays;
  return { days, policy: `retention:${kind}:${String(days)}d` };
}

/** When an object stored at `at` under `rule` expires (undefined: kept forever). */
export function retentionEnd(rule: RetentionRule, at: Date): Date | undefined {
  return rule.days <= 0 ? undefined : new Date(at.getTime() + rule.days * 86_400_000);
}
