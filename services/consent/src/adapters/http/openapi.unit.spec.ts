import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ConsentLedger } from "../../ledger/ledger.js";
import { createAuthenticator } from "@parley/runtime";
import { createConsentApiApp } from "./routes.js";

const docPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../../docs/consent-api.openapi.yaml",
);

interface OpenApi {
  readonly openapi: string;
  readonly paths: Record<string, Record<string, unknown>>;
}

interface Layer {
  readonly route?: { readonly path: string; readonly methods: Record<string, boolean> };
}

describe("docs/consent-api.openapi.yaml", () => {
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
    const app = createConsentApiApp({
      ledger: {} as ConsentLedger,
      authenticator: createAuthenticator({ api: "consent", keys: [] }),
      clock: () => new Date(),
      maxBodyBytes: 1_024,
      isStopping: () => false,
      onWork: () => () => undefined,
    });
    const stack = (app.app as unknown as { router: { stack: Layer[] } }).router.stack;
    const served = stack
      .flatMap((layer) =>
        layer.route === undefined
          ? []
          : Object.keys(layer.route.methods).map(
              (m) => `${m} ${(layer.route?.path ?? "").replace(/:(\w+)/g, "{$1}")}`,
            ),
      )
      .sort();
    expect(served).toEqual(documented);
  });
});
