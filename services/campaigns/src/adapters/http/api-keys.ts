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
}

/** Compares the presented key's SHA-256 with every configured hash in constant time. */
export function createKeyring(entries: readonly ApiKeyEntry[]): Keyring {
  const keys = entries.map((e) => ({
    digest: Buffer.from(e.keySha256, "hex"),
    principal: { id: e.id, scopes: new Set(e.scopes) } satisfies Principal,
  }));
  return {
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
