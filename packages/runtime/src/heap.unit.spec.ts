import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { limitHeapGrowth } from "./heap.js";

describe("limitHeapGrowth", () => {
  it("sets V8's heap growing factor to 1 + percent / 100", () => {
    const flags: string[] = [];
    limitHeapGrowth(50, (f) => flags.push(f));
    expect(flags).toEqual(["--heap-growing-percent=50"]);
  });

  it("leaves V8's own factor at 0", () => {
    const flags: string[] = [];
    limitHeapGrowth(0, (f) => flags.push(f));
    expect(flags).toEqual([]);
  });

  it("refuses a negative or fractional percentage", () => {
    const ignore = (): void => {
      /* not reached */
    };
    expect(() => {
      limitHeapGrowth(-1, ignore);
    }).toThrow(/non-negative integer, got -1/);
    expect(() => {
      limitHeapGrowth(1.5, ignore);
    }).toThrow(/got 1.5/);
  });

  it("names a flag this Node's V8 knows (Node refuses an unknown one on its command line)", () => {
    const out = execFileSync(process.execPath, ["--heap-growing-percent=50", "-p", "1 + 1"], {
      encoding: "utf8",
    });
    expect(out.trim()).toBe("2");
  });
});
