import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";

export interface RegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:8081 or Apicurio's .../apis/ccompat/v7 */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
}

export type RegistryClient = SchemaRegistry;
export { SchemaType };

export function createRegistry({ url, username, password }: RegistryOptions): RegistryClient {
  const auth =
    username !== undefined && password !== undefined ? { auth: { username, password } } : {};
  return new SchemaRegistry({ host: url.replace(/\/+$/, ""), ...auth });
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
