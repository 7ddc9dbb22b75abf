// Invariant 11 at the end of a chaos run: the live read models (generation 1, kept current through
// every fault) against a rebuild from Kafka (`parley-projection rebuild`, a new generation), as
// projection.e2e.spec.ts compares them, document by document without the store's bookkeeping.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createMongo, STATE_DOCUMENT_FIELDS } from "@parley/mongo";
import type { ReadModelComparison } from "./checker.js";
import { lagOf, type Admin, type GroupTopics } from "./lag.js";
import type { PathStack } from "../path-stack.js";
import { repoRoot, serviceEnv } from "../processes.js";

const PREFIX = "projection_";
const KINDS = [
  "requests",
  "messages",
  "contacts",
  "conversations",
  "templates",
  "analytics",
  "audit",
];
const BOOKKEEPING = new Set<string>(STATE_DOCUMENT_FIELDS.filter((f) => f !== "_id"));

function rebuild(p: PathStack): Promise<{ generation: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, "services/projection/dist/cli.js"), "rebuild"],
      {
        env: {
          ...process.env,
          ...serviceEnv(p.stack, {
            database: p.ns.database(),
            topicPrefix: p.catalog.prefix,
            opsToken: "unused-ops-token",
          }),
          PROJECTION_REBUILD_CATCH_UP_RECORDS: "0",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("exit", (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as { generation: number });
      else
        reject(
          new Error(
            `parley-projection rebuild exited with ${String(code)}: ${stderr.slice(-2_000)}`,
          ),
        );
    });
  });
}

export async function compareReadModels(
  p: PathStack,
  admin: Admin,
  projection: readonly GroupTopics[],
  timeoutS: number,
): Promise<ReadModelComparison[]> {
  const mongo = createMongo({
    url: p.stack.mongoUrl,
    database: p.ns.database(),
    appName: `${p.ns.id}-chaos`,
  });
  try {
    // Caught up, marks rolled up, and quiet for 3 s.
    const deadline = Date.now() + timeoutS * 1_000;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      const lag = await lagOf(admin, projection).catch(() => Number.NaN);
      const marks = await mongo.db
        .collection(`${PREFIX}g1_marks`)
        .countDocuments({})
        .catch(() => 1);
      if (lag !== 0 || marks > 0) quietSince = Date.now();
      else if (Date.now() - quietSince >= 3_000) break;
      await sleep(500);
    }
    const dump = async (generation: number) => {
      const out: Record<string, unknown[]> = {};
      for (const kind of KINDS)
        out[kind] = (
          await mongo.db
            .collection(`${PREFIX}g${String(generation)}_${kind}`)
            .find({})
            .toArray()
        ).map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !BOOKKEEPING.has(k))));
      return out;
    };
    const live = await dump(1);
    const { generation } = await rebuild(p);
    const rebuilt = await dump(generation);
    return KINDS.map((name) => ({ name, live: live[name] ?? [], rebuilt: rebuilt[name] ?? [] }));
  } finally {
    await mongo.close();
  }
}
