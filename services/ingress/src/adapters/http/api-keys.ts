import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiKeyEntry, Scope } from "../../config.js";

/** The caller an API key stands for: idempotency keys are scoped to `id`. */
export interface Principal {
  readonly id: string;
  readonly requester: string;
  readonly scopes: ReadonlySet<Scope>;
}

/** The hex SHA-256 of an API key, as the key file stores it. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export interface Keyring {
  /** The principal of a presented key, or undefined when no configured key matches. */
  authenticate(presentedKey: string): Principal | undefined;
  readonly size: number;
}

/**
 * Matches presented keys by their SHA-256 against every configured hash with timingSafeEqual,
 * always comparing all of them, so the answer's timing says nothing about which hash was close.
 */
export function createKeyring(entries: readonly ApiKeyEntry[]): Keyring {
  const keys = entries.map((e): { digest: Buffer; principal: Principal } => ({
    digest: Buffer.from(e.keySha256, "hex"),
    principal: { id: e.id, requester: e.requester, scopes: new Set(e.scopes) },
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
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1];
}
