/**
 * Scrubbing rules for anything that leaves the process as text (logs first of all):
 * secrets are censored by key name and by recognisable inline shapes, phone numbers are masked.
 * The rules err on the side of hiding too much: a masked offset costs less than a leaked token.
 */

export const REDACTED = "[REDACTED]";

const MAX_DEPTH = 12;

/**
 * Key fragments that mark a secret, compared against the key lower-cased with everything but
 * letters and digits removed, so `accessToken`, `WA_APP_SECRET`, `x-hub-signature-256` and
 * `Proxy-Authorization` all match.
 */
const SECRET_KEY_FRAGMENTS = [
  "token",
  "secret",
  "password",
  "passwd",
  "passphrase",
  "pwd",
  "authorization",
  "cookie",
  "apikey",
  "credential",
  "privatekey",
  "signingkey",
  "encryptionkey",
  "masterkey",
  "datakey",
  "accesskey",
  "signature",
  "sessionid",
  "bearer",
];
const SECRET_KEYS_EXACT = new Set(["auth", "pass", "key", "dek", "kek"]);

/**
 * How secret the current subtree is. Under a key that is secret only for containing "token"
 * (`tokens`, `tokenBucket`), numbers are rate-limiter counts and survive; strings never do.
 */
type Secrecy = "none" | "token" | "strict";

function secrecyOf(key: string, parent: Secrecy): Secrecy {
  if (parent === "strict") return parent;
  const k = normaliseKey(key);
  if (SECRET_KEYS_EXACT.has(k) || SECRET_KEY_FRAGMENTS.some((f) => f !== "token" && k.includes(f)))
    return "strict";
  return k.includes("token") ? "token" : parent;
}

/** Keys whose numeric values are phone numbers (a JSON number loses no digits up to 15). */
const PHONE_KEY = /phone|msisdn|waid|recipient|^to$|^from$|^contact$/;

const normaliseKey = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, "");

/** Whether a property name denotes a secret (case, separators and prefixes do not matter). */
export function isSecretKey(key: string): boolean {
  return secrecyOf(key, "none") !== "none";
}

/*
 * A phone number is a run of 8 to 15 digits, optionally after "+", that is not part of a longer
 * alphanumeric token (hex ids, base64) and is not a UUID segment. UUIDs are matched first and
 * left alone so that event ids stay readable.
 */
const UUID_OR_PHONE =
  /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(?<![A-Za-z0-9+])(\+?)(\d{8,15})(?![A-Za-z0-9])/gi;
const HAS_DIGIT_RUN = /\d{8}/;

function maskDigits(digits: string): string {
  return digits.slice(0, 2) + "*".repeat(digits.length - 6) + digits.slice(-4);
}

/**
 * Masks every phone-number-like digit run in a string, keeping the country-ish prefix and the
 * last four digits: "+5511987654321" becomes "+55*******4321".
 */
export function maskPhone(text: string): string {
  if (!HAS_DIGIT_RUN.test(text)) return text;
  return text.replace(
    UUID_OR_PHONE,
    (match: string, uuid?: string, plus?: string, digits?: string) =>
      uuid !== undefined || digits === undefined ? match : (plus ?? "") + maskDigits(digits),
  );
}

/** Secrets recognisable by their shape inside free text (messages, URLs, stacks, raw bodies). */
const INLINE_SECRETS: readonly (readonly [RegExp, string])[] = [
  // Authorization header values: "Bearer EAAG...", "Basic dXNlcjpwYXNz"
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // key=value pairs in query strings, form bodies and connection strings
  [
    /([\w.-]*(?:token|secret|passw(?:or)?d|pwd|api_?key|signature|proof|credential)[\w.-]*=)[^&\s"';,]+/gi,
    `$1${REDACTED}`,
  ],
  // "key": "value" pairs inside JSON that travels as a string
  [
    /("[\w.-]*(?:token|secret|passw(?:or)?d|authorization|api_?key|signature|cookie)[\w.-]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi,
    `$1"${REDACTED}"`,
  ],
  // user:password@ in URLs (mongodb://user:pass@host)
  [/(\/\/[^/\s:@]+:)[^@/\s]+@/g, `$1${REDACTED}@`],
  // Meta access tokens start with EAA and are long
  [/\bEAA[A-Za-z0-9]{20,}/g, REDACTED],
  // X-Hub-Signature-256 values
  [/\bsha256=[0-9a-f]{16,}/gi, `sha256=${REDACTED}`],
];

function censorInline(text: string): string {
  let out = text;
  for (const [pattern, replacement] of INLINE_SECRETS) out = out.replace(pattern, replacement);
  return out;
}

/** Censors inline secrets and masks phone numbers in one string. */
export function scrubText(text: string): string {
  return maskPhone(censorInline(text));
}

interface Walk {
  readonly phones: boolean;
  readonly stack: Set<object>;
}

function scrubString(value: string, walk: Walk): string {
  const censored = censorInline(value);
  return walk.phones ? maskPhone(censored) : censored;
}

function scrubKey(key: string, walk: Walk): string {
  return walk.phones ? maskPhone(key) : key;
}

function scrubNumber(
  value: number | bigint,
  key: string | undefined,
  secrecy: Secrecy,
  walk: Walk,
): unknown {
  if (secrecy === "strict") return REDACTED;
  const k = key === undefined ? "" : normaliseKey(key);
  if (walk.phones && PHONE_KEY.test(k)) {
    const digits = value.toString();
    if (/^\d{8,15}$/.test(digits)) return maskPhone(digits);
  }
  return typeof value === "bigint" ? value.toString() : value;
}

/** An Error as plain data: name, message, stack, code, cause chain and its own fields. */
function errorToObject(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: error.constructor.name || error.name,
    message: error.message,
  };
  if (error.stack !== undefined) out["stack"] = error.stack;
  for (const key of Object.keys(error)) {
    out[key] = (error as unknown as Record<string, unknown>)[key];
  }
  if (error.cause !== undefined) out["cause"] = error.cause;
  if (error instanceof AggregateError) out["errors"] = error.errors;
  return out;
}

function hasToJSON(value: object): value is { toJSON: () => unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === "function";
}

function scrubArray(
  items: readonly unknown[],
  depth: number,
  secrecy: Secrecy,
  walk: Walk,
): unknown[] {
  const out: unknown[] = [];
  let censorNext = false;
  for (const item of items) {
    // Flat [name, value, name, value] lists such as IncomingMessage.rawHeaders
    out.push(censorNext ? REDACTED : scrubAny(item, undefined, depth + 1, secrecy, walk));
    censorNext = typeof item === "string" && isSecretKey(item);
  }
  return out;
}

function scrubEntries(
  entries: Iterable<readonly [string, unknown]>,
  depth: number,
  secrecy: Secrecy,
  walk: Walk,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of entries) {
    const scrubbed = scrubAny(child, key, depth + 1, secrecyOf(key, secrecy), walk);
    if (scrubbed !== undefined) out[scrubKey(key, walk)] = scrubbed;
  }
  return out;
}

function scrubObject(value: object, depth: number, secrecy: Secrecy, walk: Walk): unknown {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return secrecy !== "none" ? REDACTED : `[Binary ${value.byteLength} bytes]`;
  }
  if (value instanceof Error)
    return scrubEntries(Object.entries(errorToObject(value)), depth, secrecy, walk);
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (Array.isArray(value)) return scrubArray(value, depth, secrecy, walk);
  if (value instanceof Map) {
    const entries = [...(value as Map<unknown, unknown>)].map(([k, v]) => [String(k), v] as const);
    return scrubEntries(entries, depth, secrecy, walk);
  }
  if (value instanceof Set) return scrubArray([...(value as Set<unknown>)], depth, secrecy, walk);
  if (hasToJSON(value)) return scrubAny(value.toJSON(), undefined, depth + 1, secrecy, walk);
  return scrubEntries(Object.entries(value), depth, secrecy, walk);
}

function scrubAny(
  value: unknown,
  key: string | undefined,
  depth: number,
  secrecy: Secrecy,
  walk: Walk,
): unknown {
  switch (typeof value) {
    case "string":
      return secrecy !== "none" ? REDACTED : scrubString(value, walk);
    case "number":
    case "bigint":
      return scrubNumber(value, key, secrecy, walk);
    case "boolean":
    case "undefined":
      return value;
    case "symbol":
      return value.toString();
    case "function":
      return undefined;
    case "object":
      break;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH) return "[Truncated]";
  if (walk.stack.has(value)) return "[Circular]";
  walk.stack.add(value);
  try {
    return scrubObject(value, depth, secrecy, walk);
  } finally {
    walk.stack.delete(value);
  }
}

/**
 * A copy of `value` fit for a log line: values under secret-looking keys are censored at any
 * depth, inline secrets in strings are censored, Errors become plain objects (cause chain
 * included), binary data is summarised, and, unless `phones` is false, phone numbers are masked.
 */
export function scrub(value: unknown, { phones = true }: { phones?: boolean } = {}): unknown {
  return scrubAny(value, undefined, 0, "none", { phones, stack: new Set() });
}

/** Censors secrets (by key name and by inline shape) in a copy of `value`; phone numbers are kept. */
export function redactSecrets(value: unknown): unknown {
  return scrub(value, { phones: false });
}
