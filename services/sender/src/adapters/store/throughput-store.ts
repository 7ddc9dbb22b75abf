import { guardStore } from "@parley/mongo";
import type { Collection, Db } from "mongodb";
import type { ThroughputStore } from "../../domain/ports.js";
import { levelOf, type ThroughputLevel } from "../../domain/throughput.js";

interface LevelDoc {
  _id: string;
  level: ThroughputLevel;
  at: Date;
  /** What said so: "graph" (the phone number's fields) or "webhook" (THROUGHPUT_UPGRADE). */
  source: string;
}

/**
 * Each number's throughput level as Meta last stated it (`sender_numbers`), shared by the
 * sender's instances: whichever instance hears it writes it, every instance's lanes read it.
 * A later statement never gives way to an earlier one.
 */
export function createMongoThroughputStore(
  db: Db,
  collectionName = "sender_numbers",
): ThroughputStore {
  const col: Collection<LevelDoc> = db.collection<LevelDoc>(collectionName);
  return {
    async all() {
      const docs = await guardStore(collectionName, "all", () => col.find({}).toArray());
      return docs.flatMap((d) => {
        const level = levelOf(d.level);
        return level === undefined ? [] : [{ number: d._id, level, at: d.at.getTime() }];
      });
    },
    async set(number, level, at, source) {
      await guardStore(collectionName, "set", async () => {
        // Newer than what is stored, or nothing stored yet (the upsert's insert).
        await col
          .updateOne(
            { _id: number, at: { $lt: new Date(at) } },
            { $set: { level, at: new Date(at), source } },
            { upsert: true },
          )
          .catch((error: unknown) => {
            // A newer statement is stored already: the upsert met the unique _id.
            if ((error as { code?: number }).code === 11000) return;
            throw error;
          });
      });
    },
  };
}
