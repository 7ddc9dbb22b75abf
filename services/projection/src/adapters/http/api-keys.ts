import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiKeyEntry, Scope } from "../../config.js";

/** The caller an API key stands for. */
export interface Principal {
  readonly id: string;
  readonly scopes: ReadonlySet<Scope>;
}

export interface Keyring {
  /** The principal of a presented key, or undefined when no configured key matches. */
  authenticate(presentedKey: string): Principal | undefined;
  readonly size: number;
}

/**
 * Matches a presented key by its SHA-256 against every configured hash with timingSafeEqual,
 * always comparing all of them, so the answer's timing says nothing about which hash was close.
 */
export function createKeyring(entries: readonly ApiKeyEntry[]): Keyring {
  const keys = entries.map((e) => ({
    digest: Buffer.from(e.keySha256, "hex"),
    principal: { id: e.id, scopes: new Set(e.scopes) } satisfies Principal,
  }));
  return {
    size: keys.length,
    authenticate(presentedKey) {
      const digest = createHash("sha256").update(presentedKey, "utf8").digest();
      let found: Principal | undefined;
      for (const key of keys) {
        if (timingSafeEqual(digest, key.digest)) found ??= key.principal;
      }
      return found;
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer[ ]+([^\s]+)\s*$/i.exec(header)?.[1];
}

/** A token bucket per key id: `ratePerSecond` (0: unlimited), bursts up to `burst`. */
export function createRateLimiter({
  ratePerSecond,
  burst,
}: {
  ratePerSecond: number;
  burst: number;
}) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(id: string, nowMs: number): boolean {
      if (ratePerSecond === 0) return true;
      const b = buckets.get(id) ?? { tokens: burst, at: nowMs };
      const tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1_000) * ratePerSecond);
      const ok = tokens >= 1;
      buckets.set(id, { tokens: ok ? tokens - 1 : tokens, at: nowMs });
      return ok;
    },
  };
}
