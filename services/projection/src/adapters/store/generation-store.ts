import { guardStore } from "@parley/mongo";
import { MongoServerError, type Db } from "mongodb";
import type {
  GenerationInfo,
  GenerationState,
  GenerationStore,
  PartitionTarget,
} from "../../generations/ports.js";

interface PointerDocument {
  _id: "active";
  generation: number;
  switchedAt: Date;
}

interface GenerationDocument {
  _id: string;
  generation: number;
  state: GenerationState;
  asOf?: string;
  startedAt: Date;
  completedAt?: Date;
  switchedAt?: Date;
  targets?: PartitionTarget[];
}

const DUPLICATE_KEY = 11000;
const idOf = (generation: number) => `g${String(generation)}`;

function infoOf(doc: GenerationDocument): GenerationInfo {
  return {
    generation: doc.generation,
    state: doc.state,
    ...(doc.asOf === undefined ? {} : { asOf: doc.asOf }),
    startedAt: doc.startedAt.toISOString(),
    ...(doc.completedAt === undefined ? {} : { completedAt: doc.completedAt.toISOString() }),
    ...(doc.switchedAt === undefined ? {} : { switchedAt: doc.switchedAt.toISOString() }),
    ...(doc.targets === undefined ? {} : { targets: doc.targets }),
  };
}

/**
 * The generations and the active pointer in one collection (`<prefix>generations`): a document
 * per generation and one `active` document whose compare-and-set is the switch.
 */
export function createMongoGenerationStore(db: Db, prefix: string): GenerationStore {
  const name = `${prefix}generations`;
  const pointers = db.collection<PointerDocument>(name);
  const generations = db.collection<GenerationDocument>(name);
  const guard = <T>(operation: string, work: () => Promise<T>) => guardStore(name, operation, work);

  const all = async () =>
    (await guard("list", () => generations.find({ _id: { $ne: "active" } }).toArray())).sort(
      (a, b) => a.generation - b.generation,
    );

  const active = async (): Promise<number | undefined> => {
    const doc = await guard("active", () => pointers.findOne({ _id: "active" }));
    return doc?.generation;
  };

  return {
    active,
    async activeOrFirst(now) {
      const current = await active();
      if (current !== undefined) return current;
      // Generation 1 (or the one a first rebuild is filling) becomes active.
      const first = (await all())[0];
      const generation = first?.generation ?? 1;
      if (first === undefined) {
        await guard("create", () =>
          generations
            .insertOne({ _id: idOf(1), generation: 1, state: "live", startedAt: now })
            .catch((error: unknown) => {
              if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
            }),
        );
      }
      await guard("activate", () =>
        pointers
          .insertOne({ _id: "active", generation, switchedAt: now })
          .catch((error: unknown) => {
            if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
          }),
      );
      await guard("activate", () =>
        generations.updateOne(
          { _id: idOf(generation) },
          { $set: { state: "live", switchedAt: now } },
        ),
      );
      return (await active()) ?? generation;
    },
    async get(generation) {
      const doc = await guard("get", () => generations.findOne({ _id: idOf(generation) }));
      return doc === null ? undefined : infoOf(doc);
    },
    async list() {
      return (await all()).map(infoOf);
    },
    async create({ asOf, now }) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const highest = (await all()).at(-1)?.generation ?? 0;
        const current = (await active()) ?? 0;
        const generation = Math.max(highest, current) + 1;
        const doc: GenerationDocument = {
          _id: idOf(generation),
          generation,
          state: "building",
          startedAt: now,
          ...(asOf === undefined ? {} : { asOf }),
        };
        try {
          await guard("create", () => generations.insertOne(doc));
          return infoOf(doc);
        } catch (error) {
          const cause = (error as { cause?: unknown }).cause;
          if (!(cause instanceof MongoServerError && cause.code === DUPLICATE_KEY)) throw error;
        }
      }
      throw new Error("could not number a new generation: ten concurrent creations in a row");
    },
    async setTargets(generation, targets) {
      await guard("targets", () =>
        generations.updateOne({ _id: idOf(generation) }, { $set: { targets: [...targets] } }),
      );
    },
    async complete(generation, now) {
      await guard("complete", () =>
        generations.updateOne(
          { _id: idOf(generation) },
          { $set: { state: "complete", completedAt: now } },
        ),
      );
    },
    async switchTo(generation, from, now) {
      const result = await guard("switch", () =>
        pointers.updateOne(
          { _id: "active", generation: from },
          { $set: { generation, switchedAt: now } },
        ),
      );
      if (result.matchedCount !== 1) return false;
      await guard("switch", () =>
        generations.updateOne(
          { _id: idOf(generation) },
          { $set: { state: "live", completedAt: now, switchedAt: now } },
        ),
      );
      await guard("switch", () =>
        generations.updateOne({ _id: idOf(from) }, { $set: { state: "retired" } }),
      );
      return true;
    },
    async remove(generation) {
      await guard("remove", () => generations.deleteOne({ _id: idOf(generation) }));
    },
  };
}
