import { readFile } from "node:fs/promises";
import type { JSONWebKeySet } from "jose";
import {
  createAuthenticator,
  type ApiKeyConfig,
  type Authenticator,
  type JwtSettings,
} from "./api-access.js";

/**
 * What a reload changed, by name only (never key material): API key entries as
 * `<id>#<first 8 hex of the listed SHA-256>` (the hash of a key, not the key), JWKS keys by `kid`.
 */
export interface KeyChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Entries still listed whose `expiresAt` has passed since the previous load. */
  readonly expired: readonly string[];
  readonly jwksAdded: readonly string[];
  readonly jwksRemoved: readonly string[];
}

export interface KeyMaterial {
  readonly keys: readonly ApiKeyConfig[];
  readonly jwks?: JSONWebKeySet | undefined;
}

export const keyEntryName = (k: ApiKeyConfig): string =>
  `${k.id}#${k.keySha256.slice(0, 8).toLowerCase()}`;

const kidsOf = (jwks: JSONWebKeySet | undefined): Set<string> =>
  new Set((jwks?.keys ?? []).map((k, i) => (typeof k.kid === "string" ? k.kid : `#${String(i)}`)));

const expiredAt = (keys: readonly ApiKeyConfig[], nowMs: number): Set<string> =>
  new Set(
    keys
      .filter((k) => k.expiresAt !== undefined && Date.parse(k.expiresAt) <= nowMs)
      .map(keyEntryName),
  );

/** The change from one key material to the next (`beforeMs`/`nowMs`: when each was loaded). */
export function keyChangeOf(
  before: KeyMaterial,
  after: KeyMaterial,
  beforeMs: number,
  nowMs: number,
): KeyChange {
  const was = new Set(before.keys.map(keyEntryName));
  const is = new Set(after.keys.map(keyEntryName));
  const wasExpired = expiredAt(before.keys, beforeMs);
  const [wasKids, isKids] = [kidsOf(before.jwks), kidsOf(after.jwks)];
  const sorted = (s: Iterable<string>) => [...s].sort();
  return {
    added: sorted([...is].filter((n) => !was.has(n))),
    removed: sorted([...was].filter((n) => !is.has(n))),
    expired: sorted([...expiredAt(after.keys, nowMs)].filter((n) => !wasExpired.has(n))),
    jwksAdded: sorted([...isKids].filter((k) => !wasKids.has(k))),
    jwksRemoved: sorted([...wasKids].filter((k) => !isKids.has(k))),
  };
}

export const isEmptyChange = (c: KeyChange): boolean =>
  c.added.length +
    c.removed.length +
    c.expired.length +
    c.jwksAdded.length +
    c.jwksRemoved.length ===
  0;

export interface ReloadingAuthenticator extends Authenticator {
  /** Reads the files now (the poll calls it on a change); resolves once applied or refused. */
  reload(): Promise<void>;
  /** Resolves once the files' first load (right after creation) is applied or refused. */
  readonly loaded: Promise<void>;
  stop(): void;
}

/**
 * An authenticator whose API key file and JWKS file are re-read when they change on disk
 * (polled like the TLS files: survives atomic renames and mounted secrets), so a rotation with
 * overlap needs no restart. Each reload that changes something is reported to `onReload` by
 * name (the service records it as AuditRecorded `keys.changed`); a file that does not parse
 * keeps the previous keys in use and goes to `onError`.
 */
export function createReloadingAuthenticator({
  api,
  initial,
  jwt,
  keysFile,
  jwksFile,
  parseKeys,
  intervalMs = 5_000,
  now = () => Date.now(),
  onReload,
  onError,
}: {
  readonly api: string;
  readonly initial: KeyMaterial;
  /** The bearer-JWT settings; their `jwks` is replaced by the file's when `jwksFile` is given. */
  readonly jwt?: JwtSettings | undefined;
  readonly keysFile?: string | undefined;
  readonly jwksFile?: string | undefined;
  /** The service's own key-list schema (`apiKeyList` of @parley/config); throws on a bad file. */
  readonly parseKeys: (text: string) => readonly ApiKeyConfig[];
  readonly intervalMs?: number;
  readonly now?: () => number;
  readonly onReload: (change: KeyChange) => void;
  readonly onError: (error: unknown, file: string) => void;
}): ReloadingAuthenticator {
  const build = (m: KeyMaterial) =>
    createAuthenticator({
      api,
      keys: m.keys,
      jwt: jwt === undefined || m.jwks === undefined ? jwt : { ...jwt, jwks: m.jwks },
    });
  let material = initial;
  let loadedAt = now();
  let current = build(material);
  let chain = Promise.resolve();

  /** The files' texts, read once per reload: what is parsed is what is compared. */
  const readTexts = async (): Promise<{ keys?: string; jwks?: string }> => ({
    ...(keysFile === undefined
      ? {}
      : {
          keys: await readFile(keysFile, "utf8").catch((error: unknown) => {
            throw Object.assign(new Error(`cannot read ${keysFile}: ${String(error)}`), {
              file: keysFile,
            });
          }),
        }),
    ...(jwksFile === undefined ? {} : { jwks: await readFile(jwksFile, "utf8") }),
  });
  const parse = (texts: { keys?: string; jwks?: string }): KeyMaterial => {
    let keys = material.keys;
    let jwks = material.jwks;
    if (keysFile !== undefined && texts.keys !== undefined) {
      const text = texts.keys;
      try {
        keys = parseKeys(text);
      } catch (error) {
        throw Object.assign(error instanceof Error ? error : new Error(String(error)), {
          file: keysFile,
        });
      }
    }
    if (jwksFile !== undefined && texts.jwks !== undefined) {
      const text = texts.jwks;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw Object.assign(new Error(`${jwksFile}: not JSON (${(error as Error).message})`), {
          file: jwksFile,
        });
      }
      if (
        typeof parsed !== "object" ||
        parsed === null ||
        !Array.isArray((parsed as { keys?: unknown }).keys)
      )
        throw Object.assign(new Error(`${jwksFile}: needs a "keys" array`), { file: jwksFile });
      jwks = parsed as JSONWebKeySet;
    }
    return { keys, jwks };
  };

  // Polled by content, not by fs.watchFile's stat: a change made before the watcher's first stat
  // (or two writes within the file system's timestamp granularity, same size) is invisible to
  // the stat, so a rotation right after start could go unnoticed for good. Key files are small.
  const files = [keysFile, jwksFile].filter((f): f is string => f !== undefined);
  let seen: string | undefined;
  const snapshot = () =>
    Promise.all(files.map((f) => readFile(f, "utf8").catch(() => ""))).then((t) =>
      t.join("\u0000"),
    );
  /**
   * The files' text the last reload judged. A reload the poll asks for is skipped when the text
   * is that one: a write the poll and an explicit reload both see (the reload queued first) is
   * judged, and a bad one reported, once. An explicit reload always judges (and reports) again.
   */
  let judged: string | undefined;
  const reloadFor = (poll: boolean): Promise<void> => {
    chain = chain.then(async () => {
      let texts: { keys?: string; jwks?: string };
      try {
        texts = await readTexts();
      } catch (error) {
        onError(error, (error as { file?: string }).file ?? keysFile ?? jwksFile ?? "");
        return;
      }
      const text = [texts.keys, texts.jwks].filter((t) => t !== undefined).join("\u0000");
      if (poll && text === judged) return;
      judged = text;
      let next: KeyMaterial;
      let built: Authenticator;
      try {
        next = parse(texts);
        built = build(next);
      } catch (error) {
        onError(error, (error as { file?: string }).file ?? keysFile ?? jwksFile ?? "");
        return;
      }
      const at = now();
      const change = keyChangeOf(material, next, loadedAt, at);
      material = next;
      loadedAt = at;
      current = built;
      if (!isEmptyChange(change)) onReload(change);
    });
    return chain;
  };
  const reload = () => reloadFor(false);
  const tick = async () => {
    const text = await snapshot();
    if (seen !== undefined && text !== seen) await reloadFor(true);
    seen = text;
  };
  // The first snapshot, then a load: a file already different from `initial` is loaded at once,
  // and a write after the snapshot is either in that load or seen by the next tick.
  const timer =
    files.length === 0
      ? undefined
      : setInterval(() => {
          void tick();
        }, intervalMs);
  timer?.unref();
  const loaded =
    files.length === 0
      ? Promise.resolve()
      : snapshot().then((text) => {
          seen = text;
          // Like a poll's: when an explicit reload judged this text already (the first snapshot
          // was slow), it is not judged, nor a bad file reported, twice.
          return reloadFor(true);
        });

  return {
    authenticate: (authorization, nowMs) => current.authenticate(authorization, nowMs),
    get keys() {
      return current.keys;
    },
    get jwt() {
      return current.jwt;
    },
    reload,
    loaded,
    stop() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
