import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleData } from "./examples.js";
import { sendApiSchemas } from "./openapi.js";
import { sendApiOpenApiPath } from "./scripts/paths.js";

interface Doc {
  readonly info: { readonly license?: { readonly identifier?: string } };
  readonly components: { readonly schemas: Record<string, unknown> };
}

describe("docs/send-api.openapi.yaml", () => {
  const doc = parse(readFileSync(sendApiOpenApiPath, "utf8")) as Doc;

  it("types content and templateFallback with the contract's own schemas (run `pnpm --filter @parley/contracts openapi`)", () => {
    for (const [name, schema] of Object.entries(sendApiSchemas())) {
      expect(doc.components.schemas[name], `${name} is stale`).toEqual(schema);
    }
  });

  it("names its license", () => {
    expect(doc.info.license?.identifier).toBe("Apache-2.0");
  });

  it("describes content that the contract's example actually has", () => {
    const schema = sendApiSchemas()["OutboundContent"] as { anyOf?: unknown[]; oneOf?: unknown[] };
    expect((schema.oneOf ?? schema.anyOf ?? []).length).toBeGreaterThanOrEqual(11);
    expect(exampleData.SendRequested.content.type).toBeTypeOf("string");
  });
});
