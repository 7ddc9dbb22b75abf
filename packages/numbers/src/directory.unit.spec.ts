import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "@parley/config";
import {
  NumberDirectoryError,
  loadNumberDirectory,
  numbersFields,
  parseNumberDirectory,
  type NumberDirectory,
} from "./index.js";

const token = "EAAG-test-token-0001";

function problemsOf(build: () => NumberDirectory): readonly string[] {
  try {
    build();
  } catch (error) {
    if (error instanceof NumberDirectoryError) return error.problems;
    throw error;
  }
  throw new Error("expected a NumberDirectoryError");
}

describe("parseNumberDirectory", () => {
  it("applies Meta's defaults: 80 msg/s, 20 for coexistence, pair pacing 45 then one per 6 s", () => {
    const dir = parseNumberDirectory({
      numbers: [
        { phoneNumberId: "1001", wabaId: "2001", accessToken: token },
        { phoneNumberId: "1002", wabaId: "2001", coexistence: true, accessToken: token },
        { phoneNumberId: "1003", wabaId: "2002", mps: 1000, accessToken: token },
      ],
    });
    expect(dir.get("1001")).toMatchObject({
      mps: 80,
      coexistence: false,
      aliases: [],
      pairPacing: { burst: 45, refillMs: 6000 },
    });
    expect(dir.get("1002")?.mps).toBe(20);
    expect(dir.get("1003")?.mps).toBe(1000);
    expect(dir.wabaIds()).toEqual(["2001", "2002"]);
    expect(dir.inWaba("2001").map((n) => n.phoneNumberId)).toEqual(["1001", "1002"]);
  });

  it("resolves a sender by phone_number_id or alias, and nothing else", () => {
    const dir = parseNumberDirectory({
      numbers: [
        { phoneNumberId: "1001", wabaId: "2001", aliases: ["support"], accessToken: token },
      ],
    });
    expect(dir.resolve({ kind: "alias", alias: "support" })?.phoneNumberId).toBe("1001");
    expect(dir.resolve({ kind: "businessNumber", phoneNumberId: "1001" })?.wabaId).toBe("2001");
    expect(dir.resolve({ kind: "alias", alias: "sales" })).toBeUndefined();
    expect(dir.resolve({ kind: "businessNumber", phoneNumberId: "9" })).toBeUndefined();
  });

  it("keeps the access token out of JSON and out of enumeration", () => {
    const dir = parseNumberDirectory({
      numbers: [{ phoneNumberId: "1001", wabaId: "2001", accessToken: token }],
    });
    const number = dir.get("1001");
    expect(number?.accessToken).toBe(token);
    expect(JSON.stringify(dir.numbers)).not.toContain(token);
    expect(Object.keys(number ?? {})).not.toContain("accessToken");
  });

  it("reads tokens from a file or an environment variable", () => {
    const dir = mkdtempSync(join(tmpdir(), "numbers-"));
    const file = join(dir, "token");
    writeFileSync(file, `${token}-file\n`);
    const numbers = parseNumberDirectory(
      {
        numbers: [
          { phoneNumberId: "1001", wabaId: "2001", accessTokenFile: file },
          { phoneNumberId: "1002", wabaId: "2001", accessTokenEnv: "WA_TOKEN_1002" },
        ],
      },
      { WA_TOKEN_1002: `${token}-env` },
    );
    expect(numbers.get("1001")?.accessToken).toBe(`${token}-file`);
    expect(numbers.get("1002")?.accessToken).toBe(`${token}-env`);
  });

  it("lists every problem at once", () => {
    const problems = problemsOf(() =>
      parseNumberDirectory(
        {
          numbers: [
            { phoneNumberId: "1001", wabaId: "2001", accessToken: token, aliases: ["a"] },
            { phoneNumberId: "1001", wabaId: "2001", accessToken: token },
            { phoneNumberId: "1003", wabaId: "2001", accessToken: token, aliases: ["a"] },
            { phoneNumberId: "1004", wabaId: "2001" },
            { phoneNumberId: "1005", wabaId: "2001", accessTokenEnv: "MISSING_VAR" },
            {
              phoneNumberId: "1006",
              wabaId: "2001",
              coexistence: true,
              mps: 80,
              accessToken: token,
            },
          ],
        },
        {},
      ),
    );
    expect(problems).toEqual([
      "numbers.1.phoneNumberId: 1001 is listed twice",
      'numbers.2.aliases: "a" already names 1001',
      "numbers.3: set exactly one of accessToken, accessTokenFile, accessTokenEnv (found 0)",
      "numbers.4.accessTokenEnv: environment variable MISSING_VAR is unset or too short",
      "numbers.5.mps: a coexistence number is capped at 20",
    ]);
  });

  it("rejects shapes Meta would not accept: mps over 1,000, non-digit ids, unknown fields", () => {
    const problems = problemsOf(() =>
      parseNumberDirectory({
        numbers: [
          { phoneNumberId: "+1001", wabaId: "2001", mps: 1001, accessToken: token, typo: 1 },
        ],
      }),
    );
    expect(problems.join("\n")).toMatch(/numbers\.0\.phoneNumberId: must be digits only/);
    expect(problems.join("\n")).toMatch(/numbers\.0\.mps/);
    expect(problems.join("\n")).toMatch(/typo/);
  });
});

describe("loadNumberDirectory", () => {
  const json = JSON.stringify({
    numbers: [{ phoneNumberId: "1001", wabaId: "2001", accessToken: token }],
  });
  const configOf = (env: Record<string, string>) =>
    loadConfig(z.object(numbersFields), { service: "numbers-test", env });

  it("reads PARLEY_NUMBERS_FILE (the config's file form) or PARLEY_NUMBERS inline", () => {
    const dir = mkdtempSync(join(tmpdir(), "numbers-"));
    const file = join(dir, "numbers.json");
    writeFileSync(file, json);
    // As make dev and deployments give it: only the file variable.
    expect(loadNumberDirectory(configOf({ PARLEY_NUMBERS_FILE: file })).numbers).toHaveLength(1);
    expect(loadNumberDirectory(configOf({ PARLEY_NUMBERS: json })).numbers).toHaveLength(1);
    expect(() => configOf({ PARLEY_NUMBERS_FILE: join(dir, "nope.json") })).toThrow(
      /PARLEY_NUMBERS_FILE: cannot read .*nope\.json/,
    );
    expect(() => configOf({ PARLEY_NUMBERS_FILE: file, PARLEY_NUMBERS: json })).toThrow(/not both/);
  });

  it("says what to do when no directory is configured", () => {
    expect(problemsOf(() => loadNumberDirectory({}))[0]).toMatch(/set PARLEY_NUMBERS_FILE/);
  });

  it("never echoes the file's content when it is not JSON (it holds tokens)", () => {
    const problems = problemsOf(() =>
      loadNumberDirectory({ PARLEY_NUMBERS: `{"accessToken": "${token}"` }),
    );
    expect(problems).toEqual(["PARLEY_NUMBERS(_FILE): not valid JSON"]);
  });
});
