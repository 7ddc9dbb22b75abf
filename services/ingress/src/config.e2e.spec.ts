import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@parley/e2e";
import { describe, expect, it } from "vitest";

// The built ingress as an operator starts it: configuration problems stop it with exit code 78
// and every problem named, before it connects to anything (so no servers are needed here).
const keys = JSON.stringify([
  {
    id: "orders",
    keySha256: "a".repeat(64),
    scopes: ["messages:send"],
    requester: "orders",
  },
]);

function runIngress(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [join(repoRoot, "services/ingress/dist/main.js")], {
    env: { PATH: process.env["PATH"] ?? "", OPS_TOKEN: "e2e-config-ops-token", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe("ingress configuration at start-up", () => {
  const dir = mkdtempSync(join(tmpdir(), "parley-ingress-config-"));
  const file = join(dir, "send-api-keys.json");
  writeFileSync(file, `${keys}\n`);

  it("exits 78 naming both variables when SEND_API_KEYS and SEND_API_KEYS_FILE are both set", () => {
    const { status, stderr } = runIngress({ SEND_API_KEYS: keys, SEND_API_KEYS_FILE: file });
    expect(status).toBe(78);
    expect(stderr).toMatch(/SEND_API_KEYS: set either SEND_API_KEYS or SEND_API_KEYS_FILE/);
  });

  it("exits 78 with the reason for a key file it cannot read or parse", () => {
    const missing = runIngress({ SEND_API_KEYS_FILE: join(dir, "missing.json") });
    expect(missing.status).toBe(78);
    expect(missing.stderr).toMatch(/SEND_API_KEYS_FILE: cannot read/);
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "[{");
    const invalid = runIngress({ SEND_API_KEYS_FILE: broken });
    expect(invalid.status).toBe(78);
    expect(invalid.stderr).toMatch(/SEND_API_KEYS: not JSON/);
  });
});
