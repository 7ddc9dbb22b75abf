#!/usr/bin/env node
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { verifyExport } from "./audit/verify.js";

const USAGE = `usage: parley-consent verify <export.jsonl | ->

Checks the hash chains of a consent audit export (JSON lines, GET /v1/export?format=jsonl):
every entry's hash, each link to the entry before, no gap in a contact's sequence, and opened
evidence against its digest. Exit 0: the chains verify; 1: they do not (each problem printed);
64: wrong usage.`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, file] = argv;
  if (command !== "verify" || file === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  const input = file === "-" ? process.stdin : createReadStream(file);
  const lines: string[] = [];
  for await (const line of createInterface({ input, crlfDelay: Infinity })) lines.push(line);
  const report = verifyExport(lines);
  for (const p of report.problems) process.stdout.write(`line ${String(p.line)}: ${p.detail}\n`);
  process.stdout.write(
    `${report.ok ? "OK" : "FAILED"}: ${String(report.entries)} entries of ${String(report.contacts)} contacts, ${String(report.problems.length)} problems\n`,
  );
  return report.ok ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `parley-consent: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  return 1;
});
