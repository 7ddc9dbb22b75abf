/**
 * The portfolio's messaging limit (reference: unique users reached with a business-initiated
 * message outside a service window in a moving 24 h, shared by every number of the portfolio
 * since October 2025). Tiers 250, 2,000, 10,000, 100,000 and unlimited.
 */
export const messagingLimitTiers = ["250", "2000", "10000", "100000", "unlimited"] as const;
export type MessagingLimitTier = (typeof messagingLimitTiers)[number];

/** Unique users the tier allows in 24 h; Infinity for unlimited. */
export function messagingLimitOf(tier: MessagingLimitTier): number {
  return tier === "unlimited" ? Number.POSITIVE_INFINITY : Number(tier);
}

/**
 * Meta's `max_daily_conversations_per_business` / `TIER_*` values as a tier; undefined when the
 * value names none (kept as it was).
 */
export function tierOf(value: string | number): MessagingLimitTier | undefined {
  const text = String(value)
    .toUpperCase()
    .replace(/^TIER_/, "");
  const map: Record<string, MessagingLimitTier> = {
    "250": "250",
    "1K": "2000",
    "2K": "2000",
    "2000": "2000",
    "10K": "10000",
    "10000": "10000",
    "100K": "100000",
    "100000": "100000",
    UNLIMITED: "unlimited",
  };
  return map[text];
}

/**
 * What is left of the limit for a new plan: the tier's users less the unique users reached in the
 * last 24 h by every sender of the portfolio (ordinary sends and running campaigns alike) and
 * those already reserved by other running campaigns' plans not yet sent.
 */
export function remainingBudget(
  tier: MessagingLimitTier,
  reachedLast24h: number,
  reservedByOthers: number,
): number {
  return Math.max(0, messagingLimitOf(tier) - reachedLast24h - reservedByOthers);
}

/**
 * Whether a send Meta took at `at` reached its contact outside a service window, so it counts
 * toward the portfolio's messaging limit (only business-initiated messages outside the window
 * do; reference/cloud-api.md, section 3.3). `windowExpiresAt` is the contact's latest window end
 * known (ISO) or undefined.
 */
export function usesMessagingLimit(windowExpiresAt: string | undefined, at: Date): boolean {
  return windowExpiresAt === undefined || Date.parse(windowExpiresAt) <= at.getTime();
}
