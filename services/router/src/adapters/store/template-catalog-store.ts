import { guardStore } from "@parley/mongo";
import type { Collection, Db } from "mongodb";
import type { CatalogStore } from "../../outbound/catalog.js";
import type { CatalogTemplate, TemplateCatalog } from "../../outbound/templates.js";

/** Template catalogs per WABA, as last synced from Graph (shared by every router instance). */
export const CATALOG_COLLECTION = "router_template_catalogs";

interface CatalogDocument {
  _id: string;
  syncedAt: string;
  templates: CatalogTemplate[];
}

/**
 * CatalogStore on MongoDB: one document per WABA, replaced whole on every sync. Failures go
 * through guardStore: an unavailable server is an outage, anything else is never.
 */
export function createMongoCatalogStore({
  db,
  collection = CATALOG_COLLECTION,
}: {
  db: Db;
  collection?: string;
}): CatalogStore {
  const catalogs: Collection<CatalogDocument> = db.collection<CatalogDocument>(collection);
  return {
    load: (wabaId) =>
      guardStore("template catalogs", "load", async () => {
        const doc = await catalogs.findOne({ _id: wabaId });
        return doc === null
          ? undefined
          : { wabaId, syncedAt: doc.syncedAt, templates: doc.templates };
      }),
    save: (catalog: TemplateCatalog) =>
      guardStore("template catalogs", "save", async () => {
        await catalogs.replaceOne(
          { _id: catalog.wabaId },
          { syncedAt: catalog.syncedAt, templates: [...catalog.templates] },
          { upsert: true },
        );
      }),
  };
}
