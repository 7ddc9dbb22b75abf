import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";

/** What a key may do; each route names the one it needs. */
export const scopes = ["messages:send", "messages:read"] as const;
export type Scope = (typeof scopes)[number];

/** The caller an API key stands for: idempotency keys are scoped to `id`. */
export interface Principal {
  readonly id: string;
  readonly requester: string;
  readonly scopes: ReadonlySet<Scope>;
}

const entrySchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-', 1 to 64"),
  keySha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'the hex SHA-256 of the key (printf %s "$KEY" | sha256sum)'),
  scopes: z.array(z.enum(scopes)).min(1),
  requester: z.string().min(1).max(128),
});
const keysSchema = z.array(entrySchema);
export type ApiKeyEntry = z.infer<typeof entrySchema>;

/** The API key configuration cannot be used; `problems` lists every one of them. */
export class ApiKeysConfigError extends Error {
  override readonly name = "ApiKeysConfigError";
  readonly retriable = false;
  constructor(readonly problems: readonly string[]) {
    super(`send API keys: ${problems.join("; ")}`);
  }
}

/** The hex SHA-256 of an API key, as the key file stores it. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/**
 * Parses the key list (the JSON of SEND_API_KEYS or of SEND_API_KEYS_FILE). Several entries may
 * share an `id` (a key being rotated, or keys with different scopes) only if they name the same
 * requester, and a requester belongs to one id: idempotency keys are scoped per id here and per
 * requester in the router, so the two scopes must coincide. A hash may appear once. Throws ApiKeysConfigError listing every problem.
 */
export function parseApiKeys(json: string, source: string): readonly ApiKeyEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new ApiKeysConfigError([
      `${source} is not JSON (${error instanceof Error ? error.message : String(error)})`,
    ]);
  }
  const parsed = keysSchema.safeParse(value);
  if (!parsed.success) {
    throw new ApiKeysConfigError(
      parsed.error.issues.map(
        (i) => `${source}${i.path.map((p) => `[${String(p)}]`).join("")}: ${i.message}`,
      ),
    );
  }
  const problems: string[] = [];
  const requesterOf = new Map<string, string>();
  const idOf = new Map<string, string>();
  const hashes = new Set<string>();
  for (const [index, entry] of parsed.data.entries()) {
    const hash = entry.keySha256.toLowerCase();
    if (hashes.has(hash)) problems.push(`${source}[${index}]: the same key hash appears twice`);
    hashes.add(hash);
    const requester = requesterOf.get(entry.id);
    if (requester !== undefined && requester !== entry.requester) {
      problems.push(
        `${source}[${index}]: id "${entry.id}" is listed with requesters "${requester}" and "${entry.requester}"; entries sharing an id (a rotation) must name the same requester`,
      );
    }
    const owner = idOf.get(entry.requester);
    if (owner !== undefined && owner !== entry.id) {
      problems.push(
        `${source}[${index}]: requester "${entry.requester}" already belongs to id "${owner}"; the router dedupes idempotency keys per requester, so one requester is one id (give a rotated key the same id)`,
      );
    }
    requesterOf.set(entry.id, entry.requester);
    idOf.set(entry.requester, entry.id);
  }
  if (problems.length > 0) throw new ApiKeysConfigError(problems);
  return parsed.data;
}

/**
 * The configured keys, or undefined when none are configured (the send API is then off).
 * Exactly one of SEND_API_KEYS_FILE and SEND_API_KEYS may be set.
 */
export function loadApiKeys(
  config: {
    readonly SEND_API_KEYS_FILE?: string | undefined;
    readonly SEND_API_KEYS?: string | undefined;
  },
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): readonly ApiKeyEntry[] | undefined {
  const { SEND_API_KEYS_FILE: file, SEND_API_KEYS: inline } = config;
  if (file !== undefined && inline !== undefined) {
    throw new ApiKeysConfigError(["set SEND_API_KEYS_FILE or SEND_API_KEYS, not both"]);
  }
  let entries: readonly ApiKeyEntry[] | undefined;
  if (inline !== undefined) entries = parseApiKeys(inline, "SEND_API_KEYS");
  if (file !== undefined) {
    let text: string;
    try {
      text = readFile(file);
    } catch (error) {
      throw new ApiKeysConfigError([
        `SEND_API_KEYS_FILE ${file} cannot be read (${error instanceof Error ? error.message : String(error)})`,
      ]);
    }
    entries = parseApiKeys(text, "SEND_API_KEYS_FILE");
  }
  return entries === undefined || entries.length === 0 ? undefined : entries;
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
