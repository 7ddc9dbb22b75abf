import type { z } from "zod";
import { ConfigError } from "./errors.js";
import { crossFieldProblems } from "./security.js";
import { fileSecretProvider, type SecretProvider } from "./secrets.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  /** Used in error messages, e.g. "sender". */
  readonly service: string;
  /** Defaults to `process.env`; tests pass their own. */
  readonly env?: Env;
  /** Reads `*_FILE` secrets; injectable for tests (a file provider over this reader). */
  readonly readFile?: (path: string) => string;
  /** Resolves `*_FILE` references; the file provider by default (it wins over `readFile`). */
  readonly secrets?: SecretProvider;
}

/**
 * Parses the environment once against `schema` and returns a deeply frozen result.
 * Any key may instead be given as `KEY_FILE=/path` (container secrets); the file's content,
 * without its trailing newline, becomes the value. All problems are reported together.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  {
    service,
    env = process.env,
    readFile,
    secrets = fileSecretProvider(readFile),
  }: LoadConfigOptions,
): Readonly<z.infer<S>> {
  const problems: string[] = [];
  const input: Record<string, string> = {};

  const keys = new Set(Object.keys(schema.shape));
  for (const key of keys) {
    // KEY_FILE is how every KEY is read from a file: a schema that also declares KEY_FILE as a
    // variable of its own would read the same setting twice and refuse it whenever it is used.
    if (key.endsWith("_FILE") && keys.has(key.slice(0, -"_FILE".length))) {
      throw new Error(
        `${service}: the config schema declares both ${key.slice(0, -"_FILE".length)} and ${key}; drop ${key} (every variable can be given as <NAME>_FILE)`,
      );
    }
  }
  for (const key of keys) {
    const direct = env[key];
    const filePath = env[`${key}_FILE`];
    if (direct !== undefined && filePath !== undefined) {
      problems.push(`${key}: set either ${key} or ${key}_FILE, not both`);
      continue;
    }
    if (filePath !== undefined) {
      try {
        input[key] = secrets.read(filePath).replace(/\r?\n$/, "");
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const from = secrets.name === "file" ? "" : ` from the ${secrets.name} secret provider`;
        problems.push(`${key}_FILE: cannot read ${filePath}${from} (${reason})`);
      }
      continue;
    }
    if (direct !== undefined && direct !== "") input[key] = direct;
  }

  const result = schema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path.map(String).join(".") || "(root)";
      const shown = input[key] === undefined ? "not set" : "given value rejected";
      problems.push(`${key}: ${issue.message} (${shown})`);
    }
  }
  // Settings that are valid alone but not together (a SASL mechanism without its credentials).
  if (result.success) problems.push(...crossFieldProblems(result.data));
  if (problems.length > 0 || !result.success) throw new ConfigError(service, problems);
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
