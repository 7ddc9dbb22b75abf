import type { AnyEvent } from "@parley/contracts";
import { createMemoryStateStore } from "@parley/decider";
import { retryOf } from "@parley/errors";
import { describe, expect, it } from "vitest";
import { contentDigest, eventIdOf } from "../inbound/event-id.js";
import { CatalogUnavailableError } from "./decide.js";
import {
  at,
  BN,
  catalog,
  ctx,
  orderUpdate,
  request,
  template,
  text,
  tplContent,
  WABA,
  type RequestOptions,
} from "./decide.unit-helpers.js";
import type { OutboundOutput, OutboundState } from "./evolve.js";
import { createOutboundHandler, type CatalogReader } from "./handler.js";
import type { TemplateCatalog } from "./templates.js";

// What the outbound handler adds to the runtime: each batch's context (the inbound windows of
// its free-form requests in one read, each sender WABA's catalog once; a failure fails only the
// requests that needed it) and the second look after a template miss in an older catalog.

const contact = (n: number) => String(16505551200 + n);
const sendTo = (n: number, options: RequestOptions = {}) =>
  request({
    requestId: `req-${String(n)}`,
    key: `key-${String(n)}`,
    contactId: contact(n),
    recipient: { phone: `+${contact(n)}` },
    ...options,
  });
const windowOpen = { businessNumber: BN, expiresAt: at(5).toISOString() };

function setup(catalogs: CatalogReader) {
  const published: AnyEvent[] = [];
  const windowReads: string[][] = [];
  const store = createMemoryStateStore<OutboundState, OutboundOutput>();
  const handler = createOutboundHandler({
    store,
    publish: (events) => {
      published.push(...events);
      return Promise.resolve();
    },
    clock: () => at(0),
    resolveSender: ctx().resolveSender,
    catalogs,
    windows: {
      windowsOf: (ids) => {
        windowReads.push([...ids]);
        return Promise.resolve(new Map(ids.map((id) => [id, [windowOpen]])));
      },
    },
    marketingCap: { count: 2, periodMs: 86_400_000 },
    retention: { maxRequests: 100, requestTtlMs: 86_400_000 },
    eventIdOf,
    digest: contentDigest,
  });
  const outcomeOf = (n: number) =>
    published.find((e) => e.correlationId === `req-${String(n)}`)?.type;
  return { handler, published, windowReads, store, outcomeOf };
}

/** A catalog reader over a fixed catalog, counting what it is asked. */
const fixedCatalogs = (held: TemplateCatalog = catalog) => {
  const asked: string[] = [];
  const reader: CatalogReader = {
    get: (wabaId) => {
      asked.push(wabaId);
      return Promise.resolve(held);
    },
    refreshIfOlder: () => Promise.resolve(false),
  };
  return { reader, asked };
};

describe("outbound handler: each batch's context", () => {
  it("reads the windows of a batch's free-form requests at once and its WABA's catalog once", async () => {
    const catalogs = fixedCatalogs();
    const { handler, windowReads, outcomeOf } = setup(catalogs.reader);
    await Promise.all([
      handler.handle(sendTo(1)),
      handler.handle(sendTo(2)),
      handler.handle(sendTo(3, { content: tplContent(orderUpdate()), category: "utility" })),
      handler.handle(sendTo(4, { content: tplContent(orderUpdate()), category: "utility" })),
    ]);
    expect(windowReads).toEqual([[contact(1), contact(2)]]);
    expect(catalogs.asked).toEqual([WABA]);
    expect([1, 2, 3, 4].map(outcomeOf)).toEqual(Array.from({ length: 4 }, () => "DispatchMessage"));
  });

  it("a catalog that cannot be had fails only the requests that need it, as an outage (waited out, never rejected)", async () => {
    const { handler, outcomeOf, store } = setup({
      get: (wabaId) => Promise.reject(new CatalogUnavailableError(wabaId, new Error("Graph down"))),
      refreshIfOlder: () => Promise.resolve(false),
    });
    const [template, freeForm] = await Promise.allSettled([
      handler.handle(sendTo(1, { content: tplContent(orderUpdate()), category: "utility" })),
      handler.handle(sendTo(2, { content: text() })),
    ]);
    expect(template.status).toBe("rejected");
    expect(retryOf((template as PromiseRejectedResult).reason)).toBe("outage");
    expect(freeForm.status).toBe("fulfilled");
    expect(outcomeOf(1)).toBeUndefined();
    expect(store.peek(contact(1))).toBeUndefined();
    expect(outcomeOf(2)).toBe("DispatchMessage");
  });
});

describe("outbound handler: a template missing from an older catalog", () => {
  const fresh = {
    ...catalog,
    templates: [
      ...catalog.templates,
      template({ name: "brand_new", components: [{ type: "BODY", text: "New!" }] }),
    ],
  };
  const brandNew = tplContent({ name: "brand_new", language: { code: "en_US" } });

  it("syncs the catalog once and decides again: the new template is dispatched", async () => {
    let held: TemplateCatalog = catalog;
    const refreshes: number[] = [];
    const { handler, outcomeOf } = setup({
      get: () => Promise.resolve(held),
      refreshIfOlder: (_wabaId, minAgeMs) => {
        refreshes.push(minAgeMs);
        held = fresh;
        return Promise.resolve(true);
      },
    });
    await handler.handle(sendTo(1, { content: brandNew, category: "utility" }));
    expect(outcomeOf(1)).toBe("DispatchMessage");
    expect(refreshes).toEqual([60_000]);
  });

  it("keeps the rejection when the catalog is recent (nothing synced) or the sync fails", async () => {
    for (const refreshIfOlder of [
      () => Promise.resolve(false),
      () => Promise.reject(new Error("Graph down")),
    ]) {
      const { handler, published } = setup({ get: () => Promise.resolve(catalog), refreshIfOlder });
      await handler.handle(sendTo(1, { content: brandNew, category: "utility" }));
      expect(published).toMatchObject([
        { type: "SendRejected", data: { reason: "template_not_approved" } },
      ]);
    }
  });
});
