/** What Graph's `debug_token` says of a number's token (its `data`, reference §9). */
export interface TokenReport {
  readonly isValid: boolean;
  /** Epoch seconds; 0 for a token that never expires (Meta's convention). */
  readonly expiresAt: number;
  readonly scopes: readonly string[];
  readonly errorCode?: number | undefined;
  readonly errorSubcode?: number | undefined;
}

/** The scope a token needs to send messages. */
export const MESSAGING_SCOPE = "whatsapp_business_messaging";

export type TokenVerdict =
  /** Valid, and not expiring within the warning window (or never). */
  | { readonly kind: "valid"; readonly expiresInSeconds: number }
  /** Valid, but it expires within the warning window: rotate it before it does. */
  | { readonly kind: "expiring"; readonly expiresInSeconds: number }
  /** Valid, but it cannot send (no `whatsapp_business_messaging` scope). */
  | { readonly kind: "unusable"; readonly expiresInSeconds: number; readonly reason: string }
  /** Graph no longer takes it (expired, revoked, unknown). */
  | { readonly kind: "invalid"; readonly expiresInSeconds: 0; readonly reason: string };

/**
 * Judges a token from Graph's report at `now` (epoch ms): how long it has left (Infinity for a
 * token that never expires; 0 once it has) and whether an operator must act. Pure.
 */
export function judgeToken(report: TokenReport, now: number, warnWithinMs: number): TokenVerdict {
  const expiresAtMs = report.expiresAt > 0 ? report.expiresAt * 1_000 : Number.POSITIVE_INFINITY;
  const left = Math.max(0, expiresAtMs - now);
  if (!report.isValid || left === 0) {
    const code =
      report.errorCode === undefined
        ? ""
        : ` (#${String(report.errorCode)}${report.errorSubcode === undefined ? "" : `/${String(report.errorSubcode)}`})`;
    const why =
      report.errorSubcode === 463 || (report.expiresAt > 0 && left === 0) ? "expired" : "not valid";
    return {
      kind: "invalid",
      expiresInSeconds: 0,
      reason: `Graph says the token is ${why}${code}`,
    };
  }
  const expiresInSeconds = left === Number.POSITIVE_INFINITY ? left : Math.floor(left / 1_000);
  if (!report.scopes.includes(MESSAGING_SCOPE))
    return {
      kind: "unusable",
      expiresInSeconds,
      reason: `the token lacks the ${MESSAGING_SCOPE} scope`,
    };
  if (left <= warnWithinMs) return { kind: "expiring", expiresInSeconds };
  return { kind: "valid", expiresInSeconds };
}
