import type { EventOf } from "@parley/contracts";
import { CatalogUnavailableError } from "./decide.js";
import type { CatalogReader } from "./handler.js";
import type { CatalogTemplate, TemplateCatalog } from "./templates.js";

/** Port: every template of a WABA, all pages (Graph's message_templates in production). */
export interface TemplateSource {
  list(wabaId: string): Promise<readonly CatalogTemplate[]>;
}

/** Port: the last synced catalog per WABA, shared by every router instance (MongoDB). */
export interface CatalogStore {
  load(wabaId: string): Promise<TemplateCatalog | undefined>;
  save(catalog: TemplateCatalog): Promise<void>;
}

export type TemplateEvent =
  | EventOf<"TemplateStatusUpdated">
  | EventOf<"TemplateCategoryUpdated">
  | EventOf<"TemplateQualityUpdated">;

export interface TemplateCatalogs extends CatalogReader {
  /** Reads the catalog from Graph now and stores it; throws when Graph or MongoDB fails. */
  refresh(wabaId: string): Promise<TemplateCatalog>;
  /**
   * A template webhook: the status or category it reports is applied at once (so a PAUSED
   * template stops even while Graph is unreachable), then the whole catalog is synced.
   */
  applyTemplateEvent(event: TemplateEvent): Promise<void>;
}

export interface TemplateCatalogsOptions {
  readonly source: TemplateSource;
  readonly store: CatalogStore;
  readonly clock: () => Date;
  /**
   * How long a catalog held in memory is trusted before MongoDB is read again: another instance
   * may have synced it meanwhile (webhooks reach one instance only).
   */
  readonly memoryTtlMs?: number;
  readonly onError?: (wabaId: string, error: unknown) => void;
}

/**
 * Template catalogs per WABA: in memory, in MongoDB, and synced from Graph. A decision never
 * waits on Graph when any catalog is stored: the last synced one is used; only a WABA with no
 * catalog at all syncs first, and if that fails the record is retried (CatalogUnavailableError).
 */
export function createTemplateCatalogs({
  source,
  store,
  clock,
  memoryTtlMs = 5_000,
  onError = () => undefined,
}: TemplateCatalogsOptions): TemplateCatalogs {
  const memory = new Map<string, { catalog: TemplateCatalog; readAt: number }>();
  const inFlight = new Map<string, Promise<TemplateCatalog>>();
  const loading = new Map<string, Promise<TemplateCatalog | undefined>>();

  const remember = (catalog: TemplateCatalog) => {
    memory.set(catalog.wabaId, { catalog, readAt: clock().getTime() });
    return catalog;
  };

  /** One Graph sync per WABA at a time; callers during a sync share its result. */
  const refresh = (wabaId: string): Promise<TemplateCatalog> => {
    const running = inFlight.get(wabaId);
    if (running !== undefined) return running;
    const work = (async () => {
      const templates = await source.list(wabaId);
      const catalog: TemplateCatalog = { wabaId, syncedAt: clock().toISOString(), templates };
      await store.save(catalog);
      return remember(catalog);
    })().finally(() => inFlight.delete(wabaId));
    inFlight.set(wabaId, work);
    return work;
  };

  const current = async (wabaId: string): Promise<TemplateCatalog | undefined> => {
    const held = memory.get(wabaId);
    if (held !== undefined && clock().getTime() - held.readAt < memoryTtlMs) return held.catalog;
    try {
      // When the memory copy expires under load, the callers of that moment share one read.
      let reading = loading.get(wabaId);
      if (reading === undefined) {
        reading = store.load(wabaId).finally(() => loading.delete(wabaId));
        loading.set(wabaId, reading);
      }
      const stored = await reading;
      if (stored !== undefined) return remember(stored);
    } catch (error) {
      // MongoDB is down: a catalog held in memory, however old, beats no decision.
      if (held !== undefined) {
        onError(wabaId, error);
        return held.catalog;
      }
      throw error;
    }
    return held?.catalog;
  };

  const patch = (catalog: TemplateCatalog, event: TemplateEvent): TemplateCatalog => {
    const { templateName: name, language } = event.data;
    const change = (t: CatalogTemplate): CatalogTemplate => {
      switch (event.type) {
        case "TemplateStatusUpdated":
          return { ...t, status: statusAfter(event.data.event, t.status) };
        case "TemplateCategoryUpdated":
          return { ...t, category: event.data.newCategory };
        case "TemplateQualityUpdated":
          return t;
      }
    };
    return {
      ...catalog,
      syncedAt: clock().toISOString(),
      templates: catalog.templates.map((t) =>
        t.name === name && t.language === language ? change(t) : t,
      ),
    };
  };

  return {
    async get(wabaId) {
      const catalog = await current(wabaId);
      if (catalog !== undefined) return catalog;
      try {
        return await refresh(wabaId);
      } catch (error) {
        onError(wabaId, error);
        throw new CatalogUnavailableError(wabaId, error);
      }
    },

    async refreshIfOlder(wabaId, minAgeMs) {
      const catalog = await current(wabaId);
      if (catalog !== undefined && clock().getTime() - Date.parse(catalog.syncedAt) < minAgeMs) {
        return false;
      }
      await refresh(wabaId);
      return true;
    },

    refresh,

    async applyTemplateEvent(event) {
      const wabaId = event.data.wabaId;
      const catalog = await current(wabaId);
      if (catalog !== undefined && event.type !== "TemplateQualityUpdated") {
        await store.save(remember(patch(catalog, event)));
      }
      try {
        await refresh(wabaId);
      } catch (error) {
        // The webhook's own change is applied; the periodic sync catches up with the rest.
        onError(wabaId, error);
      }
    },
  };
}

/** Webhook events that are not statuses of their own (REINSTATED: approved again). */
function statusAfter(event: string, previous: string): string {
  const e = event.toUpperCase();
  if (e === "REINSTATED" || e === "UNARCHIVED") return "APPROVED";
  if (e === "FLAGGED") return previous;
  return e;
}
