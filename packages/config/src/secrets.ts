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

/** The default provider: the reference is a file path, the value its UTF-8 content. */
export function fileSecretProvider(
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): SecretProvider {
  return { name: "file", read: readFile };
}
