import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { sendApiRoutes } from "./send-routes.js";

const docPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../../docs/send-api.openapi.yaml",
);

interface OpenApi {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

/** The documented routes: "post /v1/messages" → its status codes, sorted. */
export function documentedRoutes(): Map<string, number[]> {
  const doc = parse(readFileSync(docPath, "utf8")) as OpenApi;
  const routes = new Map<string, number[]>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      routes.set(
        `${method} ${path}`,
        Object.keys(operation.responses)
          .map(Number)
          .sort((a, b) => a - b),
      );
    }
  }
  return routes;
}

describe("docs/send-api.openapi.yaml", () => {
  it("is OpenAPI 3.1 and documents exactly the routes and status codes the app serves", () => {
    const doc = parse(readFileSync(docPath, "utf8")) as OpenApi;
    expect(doc.openapi).toBe("3.1.0");
    const served = new Map(
      sendApiRoutes.map((r) => [`${r.method} ${r.path}`, [...r.statuses].sort((a, b) => a - b)]),
    );
    expect(Object.fromEntries(documentedRoutes())).toEqual(Object.fromEntries(served));
  });
});
