import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { applyCpuNice } from "./priority.js";

const quiet = { info: () => undefined, warn: () => undefined };

describe("applyCpuNice", () => {
  it("sets every thread's priority, and logs it", () => {
    const set: [number, number][] = [];
    const infos: unknown[] = [];
    applyCpuNice(
      10,
      {
        info: (...args: unknown[]) => {
          infos.push(args[0]);
        },
        warn: () => undefined,
      },
      (thread, nice) => set.push([thread, nice]),
      () => [100, 101, 107],
    );
    expect(set).toEqual([
      [100, 10],
      [101, 10],
      [107, 10],
    ]);
    expect(infos).toEqual([{ nice: 10 }]);
  });

  it("changes nothing at 0", () => {
    const set: number[] = [];
    applyCpuNice(
      0,
      quiet,
      (thread) => set.push(thread),
      () => [1],
    );
    expect(set).toEqual([]);
  });

  it("refuses a value outside 0 to 19 (raising a priority needs privileges a service has not)", () => {
    const none = (): void => undefined;
    expect(() => {
      applyCpuNice(-5, quiet, none, () => []);
    }).toThrow(/0 to 19, got -5/);
    expect(() => {
      applyCpuNice(20, quiet, none, () => []);
    }).toThrow(/got 20/);
    expect(() => {
      applyCpuNice(2.5, quiet, none, () => []);
    }).toThrow(/got 2.5/);
  });

  it("warns and goes on when the host refuses", () => {
    const warnings: string[] = [];
    applyCpuNice(
      10,
      {
        info: () => undefined,
        warn: (...args: unknown[]) => {
          warnings.push(String(args[1]));
        },
      },
      () => {
        throw new Error("EACCES");
      },
      () => [1],
    );
    expect(warnings).toEqual([
      "could not lower the CPU priority (CPU_NICE); running at the current priority",
    ]);
  });

  it("lowers every thread of a real process, the collector's helpers included", () => {
    // A child Node process applies it to itself (the build's module: `make test` builds before
    // the unit tests), then reports each thread's nice value (/proc/<pid>/task/<tid>/stat,
    // field 19). Not this process: a test worker may run other files after this one.
    const module = fileURLToPath(new URL("../dist/priority.js", import.meta.url));
    const script = `
      const { applyCpuNice } = await import(${JSON.stringify(module)});
      const { readdirSync, readFileSync } = await import("node:fs");
      applyCpuNice(7, { info() {}, warn(f, m) { console.error(m, f); } });
      const nice = readdirSync("/proc/self/task").map((t) => {
        const stat = readFileSync("/proc/self/task/" + t + "/stat", "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      });
      console.log(JSON.stringify(nice));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    const nice = JSON.parse(out.trim()) as number[];
    expect(nice.length).toBeGreaterThan(1);
    expect(new Set(nice)).toEqual(new Set([7]));
  });
});
