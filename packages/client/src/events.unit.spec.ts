import { describe, expect, it } from "vitest";
import { createCatalog } from "@parley/contracts";
import { sendOutcomeNames } from "./events.js";

describe("sendOutcomeNames", () => {
  it("is exactly what the catalog's send-outcomes topic carries", () => {
    expect([...sendOutcomeNames].sort()).toEqual(
      [...createCatalog().topic("send-outcomes").events].sort(),
    );
  });
});
