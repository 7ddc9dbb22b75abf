#!/usr/bin/env node
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { loadConfigOrExit } from "@parley/config";
import { createMongo } from "@parley/mongo";
import { countDataKeys, rewrapDataKeys } from "./adapters/store/key-store.js";
import { migrateLedgers } from "./adapters/store/ledger-store.js";
import { verifyExport } from "./audit/verify.js";
import { configSchema } from "./config.js";
import { createKeyWrapper } from "./crypto/keys.js";

const USAGE = `usage: parley-consent verify <export.jsonl | ->
       parley-consent rewrap --from <master key id>
       parley-consent keys
       parley-consent migrate

verify: checks the hash chains of a consent audit export (JSON lines, GET /v1/export?format=jsonl):
every entry's hash, each link to the entry before, no gap in a contact's sequence, and opened
evidence against its digest. Exit 0: the chains verify; 1: they do not (each problem printed).

rewrap: re-wraps every per-contact data key wrapped by <master key id> with the first key of
CONSENT_MASTER_KEYS (the data keys and what they sealed do not change). keys: how many data keys
each master key wraps, and how many were destroyed (erasure). Both read the service's
environment (CONSENT_MASTER_KEYS, MONGO_URL, MONGO_DB). Exit 64: wrong usage.

migrate: moves ledgers stored before ADR 0012's amendment (every entry inside the contact's
document) to one document per entry in consent_entries, heads rewritten under their version
check; idempotent (the service also runs it when it starts). Reads MONGO_URL, MONGO_DB.`;

/** migrate: the old ledgers' entries to their own collection. */
async function migrateCommand(): Promise<number> {
  const config = loadConfigOrExit(configSchema, { service: "consent-cli" });
  const mongo = createMongo({
    url: config.MONGO_URL,
    database: config.MONGO_DB,
    appName: "parley-consent-cli",
  });
  try {
    const moved = await migrateLedgers({ db: mongo.db });
    process.stdout.write(`migrated ${String(moved)} ledgers to consent_entries\n`);
    return 0;
  } finally {
    await mongo.close();
  }
}

/** rewrap and keys: against the service's MongoDB with its master keys. */
async function keysCommand(command: "rewrap" | "keys", from: string | undefined): Promise<number> {
  const config = loadConfigOrExit(configSchema, { service: "consent-cli" });
  if (config.CONSENT_MASTER_KEYS.length === 0) {
    process.stderr.write("parley-consent: CONSENT_MASTER_KEYS names no key\n");
    return 78;
  }
  const wrapper = createKeyWrapper(
    config.CONSENT_MASTER_KEYS.map((k) => ({ id: k.id, key: Buffer.from(k.key, "base64") })),
  );
  const mongo = createMongo({
    url: config.MONGO_URL,
    database: config.MONGO_DB,
    appName: "parley-consent-cli",
  });
  try {
    if (command === "rewrap") {
      const moved = await rewrapDataKeys({ db: mongo.db, wrapper, from: from ?? "" });
      process.stdout.write(
        `re-wrapped ${String(moved)} data keys from ${from ?? ""} to ${wrapper.currentId}\n`,
      );
    }
    const counts = await countDataKeys(mongo.db);
    for (const [id, n] of Object.entries(counts.byMasterKey))
      process.stdout.write(`master key ${id}: ${String(n)} data keys\n`);
    process.stdout.write(`destroyed (erased): ${String(counts.destroyed)} data keys\n`);
    return 0;
  } finally {
    await mongo.close();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, file] = argv;
  if (command === "migrate") return migrateCommand();
  if (command === "rewrap" || command === "keys") {
    const fromAt = argv.indexOf("--from");
    const from = fromAt < 0 ? undefined : argv[fromAt + 1];
    if (command === "rewrap" && (from === undefined || from.startsWith("--"))) {
      process.stderr.write(`rewrap needs --from <master key id>\n${USAGE}\n`);
      return 64;
    }
    return keysCommand(command, from);
  }
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
