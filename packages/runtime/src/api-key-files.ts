import type { publishAuditFact, AuditFact } from "@parley/kafka";
import type { ApiKeyConfig } from "./api-access.js";
import type { KeyChange } from "./key-reload.js";

/**
 * A service's own key-list schema (its `<API>_API_KEYS` field of @parley/config's `apiKeyList`):
 * structurally a zod schema over the file's text, so the runtime needs no zod of its own.
 */
export interface KeyListSchema {
  safeParse(text: string):
    | { readonly success: true; readonly data: readonly ApiKeyConfig[] }
    | {
        readonly success: false;
        readonly error: { readonly issues: readonly { readonly message: string }[] };
      };
}

/** Parses a key file with the service's key-list schema; throws naming the file and each problem. */
export function keyListParser(
  schema: KeyListSchema,
  file: string,
): (text: string) => readonly ApiKeyConfig[] {
  return (text) => {
    const parsed = schema.safeParse(text);
    if (parsed.success) return parsed.data;
    throw new Error(`${file}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  };
}

/** A reload's change as the audit fact `keys.changed` (names only, never key material). */
export function keyChangeFact(
  api: string,
  files: readonly string[],
  change: KeyChange,
  at: Date,
): AuditFact {
  return {
    action: "keys.changed",
    actor: { id: api, method: "service" },
    target: { api, file: files.join(", ") },
    details: { ...change },
    at,
  };
}

/** Where a key change is recorded: AuditRecorded on the audit topic, as the API's audit entries. */
export type KeyAudit = Parameters<typeof publishAuditFact>[0] | ((fact: AuditFact) => void);

/** How an API's keys are re-read on change (docs/access-control.md, "Key rotation"). */
export interface KeyReload {
  /**
   * The key list's variable (`SEND_API_KEYS`): when it was given as `<variable>_FILE`, that file
   * is re-read on change.
   */
  readonly variable: string;
  /** The service's key-list schema (its config field), so a reloaded file is checked as at start. */
  readonly schema: KeyListSchema;
  /** Publishes each change as AuditRecorded `keys.changed` (or records it another way). */
  readonly audit: KeyAudit;
  /** A key file named another way (consent's CONSENT_API_KEYS_PATH); wins over `<variable>_FILE`. */
  readonly file?: string | undefined;
  /** The environment holding the `*_FILE` references; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How often the files are compared with what is in use (5 s). */
  readonly intervalMs?: number;
}
