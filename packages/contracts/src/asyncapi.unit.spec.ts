import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderAsyncApi, type asyncApiDocument } from "./asyncapi.js";
import { createCatalog } from "./catalog.js";
import { eventNames } from "./events.js";
import { asyncApiPath } from "./scripts/paths.js";

describe("docs/asyncapi.yaml", () => {
  it("equals what the generator produces now (run `pnpm --filter @parley/contracts asyncapi`)", () => {
    const committed = readFileSync(asyncApiPath, "utf8");
    expect(
      committed === renderAsyncApi(createCatalog()),
      "docs/asyncapi.yaml is stale: run `pnpm --filter @parley/contracts asyncapi`",
    ).toBe(true);
  });

  it("has a channel per topic and a message with an example per event", () => {
    const catalog = createCatalog();
    const doc = parse(renderAsyncApi(catalog)) as ReturnType<typeof asyncApiDocument>;
    expect(doc.asyncapi).toBe("3.0.0");
    for (const t of catalog.topics) expect(doc.channels[t.id]).toMatchObject({ address: t.name });
    const messages = doc.components.messages as Record<
      string,
      { examples: unknown[]; payload: unknown }
    >;
    for (const e of eventNames) {
      expect(messages[e]?.examples).toHaveLength(1);
      expect(messages[e]?.payload).toBeTypeOf("object");
    }
  });
});
