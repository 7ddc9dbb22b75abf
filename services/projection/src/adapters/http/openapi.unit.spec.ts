import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { queryApiRoutes } from "./routes.js";

const docPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../../docs/projection-api.openapi.yaml",
);

interface OpenApi {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

describe("docs/projection-api.openapi.yaml", () => {
  it("is OpenAPI 3.1 and documents exactly the routes and status codes the app serves", () => {
    const doc = parse(readFileSync(docPath, "utf8")) as OpenApi;
    expect(doc.openapi).toBe("3.1.0");
    const documented: Record<string, number[]> = {};
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        documented[`${method} ${path}`] = Object.keys(operation.responses)
          .map(Number)
          .sort((a, b) => a - b);
      }
    }
    const served = Object.fromEntries(
      queryApiRoutes.map((r) => [`get ${r.path}`, [...r.statuses].sort((a, b) => a - b)]),
    );
    expect(documented).toEqual(served);
  });
});
