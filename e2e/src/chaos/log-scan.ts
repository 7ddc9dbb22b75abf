// Invariant 13 over a chaos run's logs (issue 26): every log a service wrote, at every level,
// searched for the run's known token, secret and key values and for any of its contacts' phone
// numbers written whole (a masked number keeps only a few digits).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LogScan } from "./checker.js";

export function scanLogs(
  dir: string,
  secrets: readonly string[],
  phones: ReadonlySet<string>,
): LogScan {
  const findings: string[] = [];
  let files = 0;
  let bytes = 0;
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".log"))) {
    const text = readFileSync(join(dir, name), "utf8");
    files++;
    bytes += text.length;
    for (const secret of secrets)
      if (text.includes(secret)) findings.push(`${name}: the secret ${secret.slice(0, 6)}…`);
    const seen = new Set<string>();
    for (const m of text.matchAll(/\d{10,15}/g))
      if (phones.has(m[0]) && !seen.has(m[0])) {
        seen.add(m[0]);
        findings.push(`${name}: the phone number ${m[0].slice(0, 4)}… unmasked`);
      }
  }
  return { files, bytes, findings };
}
