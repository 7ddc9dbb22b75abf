import { readFileSync } from "node:fs";
import { ParleyError } from "@parley/errors";
import { z } from "zod";

/** Meta's defaults: 80 msg/s per number, 20 for coexistence (app + API) numbers, 1,000 at most. */
export const DEFAULT_MPS = 80;
export const COEXISTENCE_MPS = 20;
export const MAX_MPS = 1_000;
/** Pair rate limit per recipient: a burst of 45, then one message per 6 s. */
export const DEFAULT_PAIR_PACING = { burst: 45, refillMs: 6_000 } as const;

/** One WhatsApp business number Parley may send from. */
export interface BusinessNumber {
  /** Graph's `phone_number_id`: the sender-keyed topic's record key. */
  readonly phoneNumberId: string;
  /** The WhatsApp Business Account that owns the number (and its templates). */
  readonly wabaId: string;
  /** Names a send request may use instead of the phone_number_id. */
  readonly aliases: readonly string[];
  readonly displayPhoneNumber: string | undefined;
  /**
   * The number's cap in messages per second, in any one-second window, until Meta's own level
   * for it is known: the configured `mps`, else Meta's default (80; 20 for coexistence).
   */
  readonly mps: number;
  /**
   * The configured `mps`, if any: a ceiling the sender never exceeds, whatever throughput Meta
   * reports for the number (STANDARD 80, HIGH 1,000).
   */
  readonly mpsCeiling: number | undefined;
  /** A number also used in the WhatsApp Business app: Meta caps it at 20 msg/s. */
  readonly coexistence: boolean;
  readonly pairPacing: { readonly burst: number; readonly refillMs: number };
  /** The Graph access token. Not enumerable: never serialised, never logged. */
  readonly accessToken: string;
  /**
   * Where the token came from, to name the secret to fix and, for a file, to read it again when
   * it changes (rotation without a restart). Not enumerable, like the token.
   */
  readonly tokenSource: TokenSource;
}

/** The configuration key a number's token came from (`where`: `numbers.0.accessTokenFile`). */
export type TokenSource =
  | { readonly kind: "inline"; readonly where: string }
  | { readonly kind: "file"; readonly where: string; readonly path: string }
  | { readonly kind: "env"; readonly where: string; readonly name: string };

/**
 * A token file's token (trimmed), as the directory reads it at start; throws NumberDirectoryError
 * naming the file when it cannot be read or holds no token.
 */
export function readAccessTokenFile(path: string, where = "accessTokenFile"): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new NumberDirectoryError([`${where}: cannot read ${path} (${code})`]);
  }
  const token = text.trim();
  if (token.length < 8) throw new NumberDirectoryError([`${where}: ${path} holds no token`]);
  // A token goes into an Authorization header: visible ASCII only, no inner space or line break.
  if (!/^[\x21-\x7e]+$/.test(token))
    throw new NumberDirectoryError([
      `${where}: ${path} holds characters an access token cannot have (only visible ASCII)`,
    ]);
  return token;
}

export type SenderRef =
  | { readonly kind: "businessNumber"; readonly phoneNumberId: string }
  | { readonly kind: "alias"; readonly alias: string };

export interface NumberDirectory {
  readonly numbers: readonly BusinessNumber[];
  get(phoneNumberId: string): BusinessNumber | undefined;
  /** The number a send request names, by phone_number_id or alias; undefined if unknown. */
  resolve(sender: SenderRef): BusinessNumber | undefined;
  inWaba(wabaId: string): readonly BusinessNumber[];
  wabaIds(): readonly string[];
}

/** The directory's configuration is wrong; `problems` lists every issue found. */
export class NumberDirectoryError extends ParleyError {
  override readonly name = "NumberDirectoryError";
  constructor(readonly problems: readonly string[]) {
    super(`business-number directory is invalid:\n  - ${problems.join("\n  - ")}`, {
      retry: "never",
    });
  }
}

const digits = z.string().regex(/^\d{1,32}$/, "must be digits only");

const entrySchema = z
  .object({
    phoneNumberId: digits,
    wabaId: digits,
    aliases: z.array(z.string().min(1).max(128)).default([]),
    displayPhoneNumber: z.string().min(1).optional(),
    mps: z.number().int().min(1).max(MAX_MPS).optional(),
    coexistence: z.boolean().default(false),
    pairPacing: z
      .object({
        burst: z.number().int().min(1).max(10_000).default(DEFAULT_PAIR_PACING.burst),
        refillMs: z.number().int().min(1).max(86_400_000).default(DEFAULT_PAIR_PACING.refillMs),
      })
      .strict()
      .default(DEFAULT_PAIR_PACING),
    accessToken: z.string().min(8).optional(),
    accessTokenFile: z.string().min(1).optional(),
    accessTokenEnv: z.string().min(1).optional(),
  })
  .strict();

const fileSchema = z.object({ numbers: z.array(entrySchema).min(1) }).strict();

type Entry = z.infer<typeof entrySchema>;

function tokenOf(
  entry: Entry,
  where: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): string | undefined {
  const sources = [entry.accessToken, entry.accessTokenFile, entry.accessTokenEnv].filter(
    (s) => s !== undefined,
  );
  if (sources.length !== 1) {
    problems.push(
      `${where}: set exactly one of accessToken, accessTokenFile, accessTokenEnv (found ${String(sources.length)})`,
    );
    return undefined;
  }
  if (entry.accessToken !== undefined) return entry.accessToken;
  if (entry.accessTokenFile !== undefined) {
    try {
      return readAccessTokenFile(entry.accessTokenFile, `${where}.accessTokenFile`);
    } catch (error) {
      if (!(error instanceof NumberDirectoryError)) throw error;
      problems.push(...error.problems);
    }
    return undefined;
  }
  const name = entry.accessTokenEnv ?? "";
  const token = env[name];
  if (token !== undefined && token.length >= 8) return token;
  problems.push(`${where}.accessTokenEnv: environment variable ${name} is unset or too short`);
  return undefined;
}

function sourceOf(entry: Entry, where: string): TokenSource {
  if (entry.accessTokenFile !== undefined)
    return { kind: "file", where: `${where}.accessTokenFile`, path: entry.accessTokenFile };
  if (entry.accessTokenEnv !== undefined)
    return { kind: "env", where: `${where}.accessTokenEnv`, name: entry.accessTokenEnv };
  return { kind: "inline", where: `${where}.accessToken` };
}

function toNumber(entry: Entry, accessToken: string, tokenSource: TokenSource): BusinessNumber {
  const number = {
    phoneNumberId: entry.phoneNumberId,
    wabaId: entry.wabaId,
    aliases: Object.freeze([...entry.aliases]),
    displayPhoneNumber: entry.displayPhoneNumber,
    mps: entry.mps ?? (entry.coexistence ? COEXISTENCE_MPS : DEFAULT_MPS),
    mpsCeiling: entry.mps,
    coexistence: entry.coexistence,
    pairPacing: Object.freeze({ ...entry.pairPacing }),
  };
  Object.defineProperty(number, "accessToken", { value: accessToken, enumerable: false });
  Object.defineProperty(number, "tokenSource", {
    value: Object.freeze({ ...tokenSource }),
    enumerable: false,
  });
  return Object.freeze(number) as BusinessNumber;
}

/** Builds the directory from its parsed JSON form; throws NumberDirectoryError listing every problem. */
export function parseNumberDirectory(
  json: unknown,
  env: NodeJS.ProcessEnv = process.env,
): NumberDirectory {
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw new NumberDirectoryError(
      parsed.error.issues.map(
        (issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`,
      ),
    );
  }
  const problems: string[] = [];
  const numbers: BusinessNumber[] = [];
  const byId = new Map<string, BusinessNumber>();
  const byAlias = new Map<string, BusinessNumber>();
  parsed.data.numbers.forEach((entry, i) => {
    const where = `numbers.${String(i)}`;
    if (byId.has(entry.phoneNumberId)) {
      problems.push(`${where}.phoneNumberId: ${entry.phoneNumberId} is listed twice`);
    }
    if (entry.coexistence && entry.mps !== undefined && entry.mps > COEXISTENCE_MPS) {
      problems.push(`${where}.mps: a coexistence number is capped at ${String(COEXISTENCE_MPS)}`);
    }
    const token = tokenOf(entry, where, env, problems);
    if (token === undefined) return;
    const number = toNumber(entry, token, sourceOf(entry, where));
    numbers.push(number);
    byId.set(number.phoneNumberId, number);
    for (const alias of number.aliases) {
      const taken = byAlias.get(alias);
      if (taken !== undefined && taken !== number) {
        problems.push(`${where}.aliases: "${alias}" already names ${taken.phoneNumberId}`);
      }
      byAlias.set(alias, number);
    }
  });
  if (problems.length > 0) throw new NumberDirectoryError(problems);

  const wabaIds = Object.freeze([...new Set(numbers.map((n) => n.wabaId))]);
  return Object.freeze({
    numbers: Object.freeze(numbers),
    get: (phoneNumberId: string) => byId.get(phoneNumberId),
    resolve: (sender: SenderRef) =>
      sender.kind === "businessNumber" ? byId.get(sender.phoneNumberId) : byAlias.get(sender.alias),
    inWaba: (wabaId: string) => numbers.filter((n) => n.wabaId === wabaId),
    wabaIds: () => wabaIds,
  });
}

/**
 * The configuration field a service spreads into its env schema: the directory's JSON. The
 * config chassis also takes it as `PARLEY_NUMBERS_FILE=/path` (its `*_FILE` form), which is how
 * deployments give it.
 */
export const numbersFields = {
  PARLEY_NUMBERS: z.string().min(1).optional(),
};

/** Builds the directory from the configuration; throws NumberDirectoryError with a fix-it message. */
export function loadNumberDirectory(
  config: { PARLEY_NUMBERS?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): NumberDirectory {
  const text = config.PARLEY_NUMBERS;
  if (text === undefined) {
    throw new NumberDirectoryError([
      "no business numbers configured: set PARLEY_NUMBERS_FILE to a JSON file (see README, Business numbers)",
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the input, which holds tokens: say where, not what.
    throw new NumberDirectoryError(["PARLEY_NUMBERS(_FILE): not valid JSON"]);
  }
  return parseNumberDirectory(json, env);
}
