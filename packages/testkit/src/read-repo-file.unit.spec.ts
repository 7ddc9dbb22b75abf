import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readRepoFile } from "./access-table.js";

describe("readRepoFile", () => {
  it("reads a file from the workspace root, from the root or any folder below it", () => {
    const root = readRepoFile("pnpm-workspace.yaml");
    expect(root).toContain("packages");
    expect(
      readRepoFile("pnpm-workspace.yaml", join(process.cwd(), "packages", "testkit", "src")),
    ).toBe(root);
  });

  it("says so when no workspace root is above the folder, and when the file is missing", () => {
    const outside = mkdtempSync(join(tmpdir(), "testkit-no-repo-"));
    expect(() => readRepoFile("docs/x.yaml", outside)).toThrow(/no pnpm-workspace.yaml above/);
    expect(() => readRepoFile("docs/no-such-file.yaml")).toThrow(/ENOENT/);
  });
});
