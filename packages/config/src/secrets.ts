import { readFileSync } from "node:fs";

/**
 * Where `<NAME>_FILE` references are resolved: the port between the configuration and a secret
 * store. The default reads files, which is also how Vault Agent, the Secrets Store CSI driver
 * (AWS Secrets Manager, Azure Key Vault, Google Secret Manager) and Kubernetes secrets deliver
 * secrets: they render them as files the process reads (docs/security.md, "Secret managers").
 * A provider for another store implements `read` and is passed to `loadConfig({ secrets })`.
 */
export interface SecretProvider {
  /** Named in error messages, e.g. "file". */
  readonly name: string;
  /** The secret's value for a reference (a path for the file provider); throws when it cannot. */
  read(reference: string): string;
}

/**
 * The file a variable was read from when given as `<name>_FILE` (undefined when given directly
 * or unset): what a service watches to take a rotated secret up without a restart (API key lists,
 * a JWKS, the Graph app token; docs/security.md, "What rotates live").
 */
export function secretFileOf(
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const path = env[`${name}_FILE`];
  return path === undefined || path === "" ? undefined : path;
}

/** The default provider: the reference is a file path, the value its UTF-8 content. */
export function fileSecretProvider(
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): SecretProvider {
  return { name: "file", read: readFile };
}
