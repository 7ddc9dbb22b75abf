import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { createRequire } from "node:module";
import type * as AjvModule from "ajv";
import { tlsProblem } from "./security.js";

// Loaded through require: Ajv is CommonJS, and Node and Vite disagree on its ESM default export.
const AjvClass = (createRequire(import.meta.url)("ajv") as typeof AjvModule).default;

export interface RegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:8081 or Apicurio's .../apis/ccompat/v7 */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM CA bundle for an https URL whose certificate a private CA signed (Node's public roots otherwise). */
  readonly ca?: string | undefined;
}

/** One agent per CA bundle for the client and its probe: https with the bundle, else Node's default. */
function agentFor(url: string, ca: string | undefined): HttpsAgent | undefined {
  if (ca === undefined) return undefined;
  if (!url.startsWith("https:"))
    throw new RangeError("createRegistry: a CA bundle needs an https:// registry URL");
  return new HttpsAgent({ ca, keepAlive: true });
}

export type RegistryClient = SchemaRegistry;
export { SchemaType };

/**
 * A Confluent API client. JSON Schema payloads are checked on encode and decode by Ajv for
 * structure; string formats (uuid, date-time...) are left to the zod contracts, which check
 * them on both sides already, so Ajv needs no format plugin.
 */
export function createRegistry({ url, username, password, ca }: RegistryOptions): RegistryClient {
  const auth =
    username !== undefined && password !== undefined ? { auth: { username, password } } : {};
  const agent = agentFor(url, ca);
  const ajv = new AjvClass({ strict: false, validateFormats: false, logger: false });
  return new SchemaRegistry(
    { host: url.replace(/\/+$/, ""), ...auth, ...(agent === undefined ? {} : { agent }) },
    { [SchemaType.JSON]: { ajvInstance: ajv } },
  );
}

/** A registry answer other than 2xx, with its status for `registryAccessProblem`. */
export class RegistryHttpError extends Error {
  override readonly name = "RegistryHttpError";
  constructor(readonly status: number) {
    super(`GET /subjects answered ${status}`);
  }
}

/**
 * Why the registry cannot be used when a retry will not help, naming the setting to fix: it
 * refused the credentials, or its certificate is not trusted. Undefined for an outage.
 */
export function registryAccessProblem(error: unknown): string | undefined {
  if (error instanceof RegistryHttpError && (error.status === 401 || error.status === 403))
    return `SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD: the registry refused them (HTTP ${error.status})`;
  return tlsProblem(error, { ca: "SCHEMA_REGISTRY_TLS_CA", enable: "SCHEMA_REGISTRY_URL (https)" });
}

/** Readiness for the registry: the Confluent `GET /subjects` call answers with a JSON array. */
export function createRegistryProbe({ url, username, password, ca }: RegistryOptions) {
  const base = url.replace(/\/+$/, "");
  const agent = agentFor(url, ca);
  const headers: Record<string, string> = {
    accept: "application/vnd.schemaregistry.v1+json, application/json",
  };
  if (username !== undefined && password !== undefined) {
    headers["authorization"] = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }
  return {
    name: "schema-registry",
    async check(signal: AbortSignal): Promise<void> {
      const body = await getJson(`${base}/subjects`, headers, agent, signal);
      if (!Array.isArray(body)) throw new Error("GET /subjects did not answer a JSON array");
    },
  };
}

/** node:http(s) rather than fetch: fetch takes no CA bundle without an undici dispatcher. */
function getJson(
  url: string,
  headers: Record<string, string>,
  agent: HttpsAgent | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const make = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = make(url, { headers, signal, ...(agent === undefined ? {} : { agent }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          reject(new RegistryHttpError(status));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}
