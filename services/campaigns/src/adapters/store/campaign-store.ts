import type { StateStore } from "@parley/decider";
import {
  createMongoStateStore,
  guardStore,
  STATE_DOCUMENT_FIELDS,
  type StateDocument,
} from "@parley/mongo";
import type { Db } from "mongodb";
import type { CampaignReader } from "../../control/ports.js";
import type { CampaignEvent, CampaignState } from "../../domain/lifecycle.js";

export const CAMPAIGNS = "campaigns";

const stateOf = (doc: StateDocument | Record<string, unknown>, key: string): CampaignState => {
  // The store's own fields (version, outbox, updatedAt, ...) are not the campaign's.
  const owned: ReadonlySet<string> = new Set(STATE_DOCUMENT_FIELDS);
  const fields = Object.fromEntries(Object.entries(doc).filter(([k]) => !owned.has(k)));
  return { ...(fields as Omit<CampaignState, "id">), id: key };
};

/** The lifecycle decider's state store: one document per campaign (campaigns). */
export function createCampaignStateStore({ db }: { db: Db }): StateStore<CampaignState, never> {
  return createMongoStateStore<CampaignState, never>({
    db,
    collection: CAMPAIGNS,
    toDocument: ({ id: _id, ...state }) => ({ ...state }),
    fromDocument: (doc, key) => stateOf(doc, key),
  });
}

/** Reads campaign documents for the API and the tick. */
export function createCampaignReader({ db }: { db: Db }): CampaignReader {
  const col = db.collection<{ _id: string }>(CAMPAIGNS);
  return {
    async get(id) {
      const doc = await guardStore(CAMPAIGNS, "read a campaign", () => col.findOne({ _id: id }));
      return doc === null ? undefined : stateOf(doc, id);
    },
    async running() {
      const docs = await guardStore(CAMPAIGNS, "read running campaigns", () =>
        col.find({ status: "running" } as Record<string, unknown>).toArray(),
      );
      return docs.map((d) => stateOf(d, d._id));
    },
  };
}

export type { CampaignEvent };
