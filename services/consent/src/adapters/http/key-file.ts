import { readFileSync } from "node:fs";
import type { AuditFact } from "@parley/kafka";
import {
  createReloadingAuthenticator,
  type ApiKeyConfig,
  type JwtSettings,
  type KeyChange,
  type ReloadingAuthenticator,
} from "@parley/runtime";
import type { z } from "zod";

/** Parses a key file with the service's key-list schema; throws naming each problem. */
export function keyParser(
  schema: z.ZodType<readonly ApiKeyConfig[], string | undefined>,
  file: string,
): (text: string) => readonly ApiKeyConfig[] {
  return (text) => {
    const parsed = schema.safeParse(text);
    if (parsed.success) return parsed.data;
    throw new Error(`${file}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  };
}

/** A reload's change as the audit fact `keys.changed` (names only, never key material). */
export function keyChangeFact(api: string, file: string, change: KeyChange, at: Date): AuditFact {
  return {
    action: "keys.changed",
    actor: { id: api, method: "service" },
    target: { api, file },
    details: { ...change },
    at,
  };
}

/**
 * The API's authenticator over a key file re-read when it changes: read once now (a bad file
 * stops the start, like a bad CONSENT_API_KEYS), then every change is swapped in without a
 * restart and recorded with `record` (AuditRecorded `keys.changed`).
 */
export function keyFileAuthenticator({
  api,
  file,
  schema,
  jwt,
  record,
  onError,
  intervalMs,
}: {
  readonly api: string;
  readonly file: string;
  readonly schema: z.ZodType<readonly ApiKeyConfig[], string | undefined>;
  readonly jwt: JwtSettings | undefined;
  readonly record: (fact: AuditFact) => void;
  readonly onError: (error: unknown) => void;
  readonly intervalMs?: number;
}): ReloadingAuthenticator {
  const parseKeys = keyParser(schema, file);
  const keys = parseKeys(readFileSync(file, "utf8"));
  return createReloadingAuthenticator({
    api,
    initial: { keys },
    jwt,
    keysFile: file,
    parseKeys,
    ...(intervalMs === undefined ? {} : { intervalMs }),
    onReload: (change) => {
      record(keyChangeFact(api, file, change, new Date()));
    },
    onError,
  });
}
