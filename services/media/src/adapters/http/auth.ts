import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiKeyEntry, Scope } from "../../config.js";

/** The caller an API key stands for. */
export interface Principal {
  readonly id: string;
  readonly scopes: ReadonlySet<Scope>;
}

/**
 * Matches a presented key by its SHA-256 against every configured hash with timingSafeEqual,
 * always comparing all of them, so timing says nothing about which hash was close.
 */
export function createKeyring(entries: readonly ApiKeyEntry[]) {
  const keys = entries.map((e) => ({
    digest: Buffer.from(e.keySha256, "hex"),
    principal: { id: e.id, scopes: new Set(e.scopes) } satisfies Principal,
  }));
  return {
    size: keys.length,
    authenticate(presented: string): Principal | undefined {
      const digest = createHash("sha256").update(presented, "utf8").digest();
      let found: Principal | undefined;
      for (const key of keys) if (timingSafeEqual(digest, key.digest)) found ??= key.principal;
      return found;
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer[ ]+([^\s]+)\s*$/i.exec(header)?.[1];
}

/**
 * One `Range: bytes=...` header against an object of `size` bytes: the inclusive range, "none"
 * when there is no header, or "unsatisfiable" (416). Several ranges are refused as unsatisfiable
 * (one range per request keeps the answer a plain body).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "none" | "unsatisfiable" {
  if (header === undefined) return "none";
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return "unsatisfiable";
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return "unsatisfiable";
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
