import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { createRequire } from "node:module";
import type * as AjvModule from "ajv";

// Loaded through require: Ajv is CommonJS, and Node and Vite disagree on its ESM default export.
const AjvClass = (createRequire(import.meta.url)("ajv") as typeof AjvModule).default;

export interface RegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:8081 or Apicurio's .../apis/ccompat/v7 */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
}

export type RegistryClient = SchemaRegistry;
export { SchemaType };

/**
 * A Confluent API client. JSON Schema payloads are checked on encode and decode by Ajv for
 * structure; string formats (uuid, date-time...) are left to the zod contracts, which check
 * them on both sides already, so Ajv needs no format plugin.
 */
export function createRegistry({ url, username, password }: RegistryOptions): RegistryClient {
  const auth =
    username !== undefined && password !== undefined ? { auth: { username, password } } : {};
  const ajv = new AjvClass({ strict: false, validateFormats: false, logger: false });
  return new SchemaRegistry(
    { host: url.replace(/\/+$/, ""), ...auth },
    { [SchemaType.JSON]: { ajvInstance: ajv } },
  );
}

/** Readiness for the registry: the Confluent `GET /subjects` call answers with a JSON array. */
export function createRegistryProbe({ url, username, password }: RegistryOptions) {
  const base = url.replace(/\/+$/, "");
  const headers: Record<string, string> = {
    accept: "application/vnd.schemaregistry.v1+json, application/json",
  };
  if (username !== undefined && password !== undefined) {
    headers["authorization"] = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  return {
    name: "schema-registry",
    async check(signal: AbortSignal): Promise<void> {
      const response = await fetch(`${base}/subjects`, { headers, signal });
      if (!response.ok) throw new Error(`GET /subjects answered ${response.status}`);
      const body: unknown = await response.json();
      if (!Array.isArray(body)) throw new Error("GET /subjects did not answer a JSON array");
    },
  };
}
