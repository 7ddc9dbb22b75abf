import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { judgeToken, MESSAGING_SCOPE, type TokenReport } from "./token.js";

const now = Date.parse("2026-12-06T12:00:00Z");
const DAY = 86_400_000;
const WARN = 14 * DAY;
const scopes = ["whatsapp_business_management", MESSAGING_SCOPE];
const report = (r: Partial<TokenReport>): TokenReport => ({
  isValid: true,
  expiresAt: 0,
  scopes,
  ...r,
});
const at = (ms: number): number => Math.floor(ms / 1_000);

describe("judgeToken", () => {
  it("a token that never expires (expires_at 0) is valid with Infinity left", () => {
    expect(judgeToken(report({}), now, WARN)).toEqual({
      kind: "valid",
      expiresInSeconds: Number.POSITIVE_INFINITY,
    });
  });

  it("expiring within the warning window is 'expiring', beyond it 'valid', in whole seconds", () => {
    expect(judgeToken(report({ expiresAt: at(now + 13 * DAY) }), now, WARN)).toEqual({
      kind: "expiring",
      expiresInSeconds: 13 * 86_400,
    });
    expect(judgeToken(report({ expiresAt: at(now + 15 * DAY) }), now, WARN)).toEqual({
      kind: "valid",
      expiresInSeconds: 15 * 86_400,
    });
  });

  it("an expired, revoked or unknown token is invalid with 0 left and says why", () => {
    expect(
      judgeToken(
        report({ isValid: false, expiresAt: at(now - DAY), errorCode: 190, errorSubcode: 463 }),
        now,
        WARN,
      ),
    ).toEqual({
      kind: "invalid",
      expiresInSeconds: 0,
      reason: "Graph says the token is expired (#190/463)",
    });
    expect(judgeToken(report({ isValid: false, scopes: [], errorCode: 190 }), now, WARN)).toEqual({
      kind: "invalid",
      expiresInSeconds: 0,
      reason: "Graph says the token is not valid (#190)",
    });
    // Graph still says valid but its expiry has passed on our clock: judged expired.
    expect(judgeToken(report({ expiresAt: at(now) }), now, WARN).kind).toBe("invalid");
  });

  it("a valid token without the messaging scope cannot send", () => {
    expect(judgeToken(report({ scopes: ["whatsapp_business_management"] }), now, WARN)).toEqual({
      kind: "unusable",
      expiresInSeconds: Number.POSITIVE_INFINITY,
      reason: `the token lacks the ${MESSAGING_SCOPE} scope`,
    });
  });

  it("property: seconds left never negative, never above the true time left; invalid iff 0 left or not valid", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.oneof(
          fc.constant(0),
          fc.integer({ min: at(now) - 400 * 86_400, max: at(now) + 400 * 86_400 }),
        ),
        fc.subarray(scopes),
        fc.integer({ min: 0, max: 365 }),
        (isValid, expiresAt, granted, warnDays) => {
          const v = judgeToken(
            report({ isValid, expiresAt, scopes: granted }),
            now,
            warnDays * DAY,
          );
          expect(v.expiresInSeconds).toBeGreaterThanOrEqual(0);
          if (expiresAt > 0)
            expect(v.expiresInSeconds).toBeLessThanOrEqual(Math.max(0, expiresAt - now / 1_000));
          else if (isValid) expect(v.expiresInSeconds).toBe(Number.POSITIVE_INFINITY);
          const expired = expiresAt > 0 && expiresAt * 1_000 <= now;
          expect(v.kind === "invalid").toBe(!isValid || expired);
          if (v.kind === "expiring")
            expect(v.expiresInSeconds * 1_000).toBeLessThanOrEqual(warnDays * DAY);
          if (v.kind === "valid") expect(granted).toContain(MESSAGING_SCOPE);
        },
      ),
      { numRuns: 500 },
    );
  });
});
