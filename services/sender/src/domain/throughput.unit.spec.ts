import { describe, expect, it } from "vitest";
import { effectiveMps, levelOf, qualityAction } from "./throughput.js";

describe("a number's cap from Meta's throughput level", () => {
  const open = { ceiling: undefined, initial: 80, coexistence: false };

  it("follows Meta's level: STANDARD 80, HIGH 1,000", () => {
    expect(effectiveMps("STANDARD", open)).toBe(80);
    expect(effectiveMps("HIGH", open)).toBe(1_000);
  });

  it("never exceeds the configured mps, which is a ceiling", () => {
    expect(effectiveMps("HIGH", { ...open, ceiling: 500, initial: 500 })).toBe(500);
    expect(effectiveMps("STANDARD", { ...open, ceiling: 500, initial: 500 })).toBe(80);
  });

  it("keeps the configured (or default) rate until the level is known; coexistence stays at 20", () => {
    expect(effectiveMps(undefined, { ...open, ceiling: 1_000, initial: 1_000 })).toBe(1_000);
    expect(effectiveMps(undefined, open)).toBe(80);
    expect(effectiveMps("HIGH", { ceiling: undefined, initial: 20, coexistence: true })).toBe(20);
  });

  it("reads Graph's level strings and quality webhooks", () => {
    expect(levelOf("HIGH")).toBe("HIGH");
    expect(levelOf("NOT_APPLICABLE")).toBeUndefined();
    expect(qualityAction("THROUGHPUT_UPGRADE")).toEqual({ kind: "level", level: "HIGH" });
    expect(qualityAction("DOWNGRADE")).toEqual({ kind: "refresh" });
    expect(qualityAction("FLAGGED")).toEqual({ kind: "refresh" });
  });
});
