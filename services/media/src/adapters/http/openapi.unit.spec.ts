import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createMediaApiApp } from "./routes.js";
import { createAuthenticator } from "@parley/runtime";
import type { MediaObjects } from "../../media/objects.js";
import type { MediaQueries } from "../../media/ports.js";

const docPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../../docs/media-api.openapi.yaml",
);

interface OpenApi {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, unknown>>;
}

interface Layer {
  readonly route?: { readonly path: string; readonly methods: Record<string, boolean> };
}

describe("docs/media-api.openapi.yaml", () => {
  it("is OpenAPI 3.1 and documents exactly the routes the app serves", () => {
    const doc = parse(readFileSync(docPath, "utf8")) as OpenApi;
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((k) => k !== "parameters")
          .map((method) => `${method} ${path}`),
      )
      .sort();
    const app = createMediaApiApp({
      objects: {} as MediaObjects,
      queries: {} as MediaQueries,
      authenticator: createAuthenticator({ api: "media", keys: [] }),
      maxBytes: 1,
    });
    const stack = (app.app as unknown as { router: { stack: Layer[] } }).router.stack;
    const served = stack
      .flatMap((layer) =>
        layer.route === undefined
          ? []
          : Object.keys(layer.route.methods).map(
              (m) => `${m} ${layer.route?.path.replace(/:(\w+)/g, "{$1}") ?? ""}`,
            ),
      )
      .sort();
    expect(documented).toEqual(served);
  });
});
