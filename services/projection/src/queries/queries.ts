import { ParleyError } from "@parley/errors";
import { emptyTotals, hourOf, mergeTotals, ratesOf, type Totals } from "../domain/analytics.js";
import type { ContactState } from "../domain/contact.js";
import { conversationKey } from "../domain/conversation.js";
import { addCosts, estimateCost, type CostEstimate, type RateCard } from "@parley/pricing";
import type { RequestState } from "../domain/request.js";
import type { GenerationInfo } from "../generations/ports.js";
import {
  encodeCursor,
  type contactListParams,
  type conversationListParams,
  type kpiParams,
  type messageListParams,
  type requestListParams,
  type seriesParams,
} from "./params.js";
import type { ListedKind, ListQuery, ReadDocument, ReadModelsReader } from "./reader.js";
import {
  contactView,
  conversationView,
  messageView,
  requestView,
  templateView,
  type Audience,
} from "./views.js";
import type { z } from "zod";

/** A generation asked for by number that does not exist. */
export class UnknownGenerationError extends ParleyError {
  override readonly name = "UnknownGenerationError";
  constructor(readonly generation: number) {
    super(`no generation ${String(generation)}`, { retry: "never" });
  }
}

export interface Page<T> {
  readonly items: readonly T[];
  /** The cursor of the next page; absent on the last page. */
  readonly next?: string;
}

export interface QueriesOptions {
  readonly reader: ReadModelsReader;
  readonly generations: {
    get(generation: number): Promise<GenerationInfo | undefined>;
    list(): Promise<readonly GenerationInfo[]>;
  };
  /** The generation the service keeps current. */
  readonly active: () => number;
  readonly rateCard?: RateCard;
}

type Params<S extends z.ZodType> = z.output<S>;

const HOUR_MS = 3_600_000;

/** An instant's hour, rounded up when it is not on the hour (for an exclusive end). */
const hourAtOrAfter = (iso: string): string => {
  const ms = Date.parse(iso);
  const up = Math.ceil(ms / HOUR_MS) * HOUR_MS;
  return hourOf(new Date(up).toISOString());
};

function equalsOf(params: Readonly<Record<string, unknown>>, fields: readonly string[]) {
  const equals: Record<string, string> = {};
  for (const f of fields) {
    const v = params[f];
    if (typeof v === "string") equals[f] = v;
  }
  return equals;
}

/**
 * The query API's use cases over the read port: a generation (the active one unless asked),
 * lists newest first with cursors, each item as its view for the caller's scopes, and analytics
 * series and KPIs added up from the buckets.
 */
export function createQueries({ reader, generations, active, rateCard }: QueriesOptions) {
  const generationOf = async (requested: number | undefined): Promise<number> => {
    if (requested === undefined) return active();
    if ((await generations.get(requested)) === undefined)
      throw new UnknownGenerationError(requested);
    return requested;
  };

  const page = async <T>(
    generation: number,
    kind: ListedKind,
    query: ListQuery,
    view: (doc: ReadDocument) => T | Promise<T>,
  ): Promise<Page<T>> => {
    const docs = await reader.list(generation, kind, query);
    const shown = docs.slice(0, query.limit);
    const last = shown.at(-1);
    const items = await Promise.all(shown.map(view));
    return docs.length > query.limit && last !== undefined
      ? {
          items,
          next: encodeCursor({
            at: typeof last["sortAt"] === "string" ? last["sortAt"] : "",
            id: last._id,
          }),
        }
      : { items };
  };

  const listQuery = (
    p: {
      limit: number;
      from?: string | undefined;
      to?: string | undefined;
      cursor?: { at: string; id: string } | undefined;
    },
    equals: Record<string, string>,
  ): ListQuery => ({
    equals,
    limit: p.limit,
    ...(p.from === undefined ? {} : { from: p.from }),
    ...(p.to === undefined ? {} : { to: p.to }),
    ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
  });

  const fullRequest = async (generation: number, doc: ReadDocument, audience: Audience) => {
    const r = doc as unknown as RequestState & { wamids?: string[]; contactId?: string };
    const messages = await reader.many(generation, "messages", r.wamids ?? []);
    const consentId =
      r.outcomes.map((o) => o.data.consentEventId).find((id) => id !== undefined) ??
      r.dispatches.find((d) => d.consentEventId !== undefined)?.consentEventId;
    let consent: unknown;
    if (consentId !== undefined && r.contactId !== undefined) {
      const contact = await reader.one(generation, "contacts", r.contactId);
      const fact = (contact as unknown as ContactState | undefined)?.consentHistory.find(
        (c) => c.eventId === consentId,
      );
      if (fact !== undefined)
        consent = { ...fact, evidence: audience.pii ? fact.evidence : undefined };
    }
    let original: { requestId: string; final: RequestState["final"] } | undefined;
    const originalId = r.final.originalRequestId;
    if (r.final.status === "deduplicated" && originalId !== undefined) {
      const first = await reader.one(generation, "requests", originalId);
      if (first !== undefined)
        original = { requestId: originalId, final: (first as unknown as RequestState).final };
    }
    return requestView(doc, audience, {
      messages,
      ...(consent === undefined ? {} : { consent }),
      ...(original === undefined ? {} : { original }),
    });
  };

  const counts = async (generation: number, contactId: string) => {
    const [inbound, outbound, requests] = await Promise.all([
      reader.count(generation, "messages", { contactId, direction: "inbound" }),
      reader.count(generation, "messages", { contactId, direction: "outbound" }),
      reader.count(generation, "requests", { contactId }),
    ]);
    return { inbound, outbound, requests };
  };

  const totalsRow = (totals: Totals, cost: CostEstimate | undefined) => ({
    requests: totals.requests,
    rejectedByReason: Object.fromEntries(totals.rejectedByReason),
    failedByCode: Object.fromEntries(totals.failedByCode),
    messages: totals.messages,
    pricing: Object.fromEntries(totals.pricing),
    inbound: {
      received: totals.inbound.received,
      windowsOpened: totals.inbound.windowsOpened,
      freeEntryPoints: totals.inbound.freeEntryPoints,
      answered: totals.inbound.answered,
      answeredWithin24h: totals.inbound.answeredWithin24h,
    },
    rates: Object.fromEntries(Object.entries(ratesOf(totals)).filter(([, v]) => v !== undefined)),
    ...(cost === undefined ? {} : { estimatedCost: cost }),
  });

  return {
    async request(id: string, generation: number | undefined, audience: Audience) {
      const g = await generationOf(generation);
      const doc = await reader.one(g, "requests", id);
      return doc === undefined ? undefined : fullRequest(g, doc, audience);
    },
    async requests(p: Params<typeof requestListParams>, audience: Audience) {
      const g = await generationOf(p.generation);
      const equals = equalsOf(p, [
        "contactId",
        "businessNumber",
        "template",
        "category",
        "requester",
        "idempotencyKey",
      ]);
      if (p.status !== undefined) equals["status"] = p.status;
      return page(g, "requests", listQuery(p, equals), (doc) => fullRequest(g, doc, audience));
    },
    async message(wamid: string, generation: number | undefined, audience: Audience) {
      const g = await generationOf(generation);
      const doc = await reader.one(g, "messages", wamid);
      return doc === undefined ? undefined : messageView(doc, audience);
    },
    async messages(p: Params<typeof messageListParams>, audience: Audience) {
      const g = await generationOf(p.generation);
      const equals = equalsOf(p, [
        "direction",
        "contactId",
        "businessNumber",
        "template",
        "category",
        "status",
        "requestId",
      ]);
      return page(g, "messages", listQuery(p, equals), (doc) => messageView(doc, audience));
    },
    async contact(contactId: string, generation: number | undefined, audience: Audience) {
      const g = await generationOf(generation);
      const doc = await reader.one(g, "contacts", contactId);
      return doc === undefined ? undefined : contactView(doc, audience, await counts(g, contactId));
    },
    async contacts(p: Params<typeof contactListParams>, audience: Audience) {
      const g = await generationOf(p.generation);
      return page(g, "contacts", listQuery(p, {}), async (doc) =>
        contactView(doc, audience, await counts(g, doc._id)),
      );
    },
    async conversation(
      contactId: string,
      businessNumber: string,
      generation: number | undefined,
      audience: Audience,
    ) {
      const g = await generationOf(generation);
      const doc = await reader.one(g, "conversations", conversationKey(contactId, businessNumber));
      return doc === undefined ? undefined : conversationView(doc, audience);
    },
    async conversations(p: Params<typeof conversationListParams>, audience: Audience) {
      const g = await generationOf(p.generation);
      const equals = equalsOf(p, ["contactId", "businessNumber"]);
      return page(g, "conversations", listQuery(p, equals), (doc) =>
        conversationView(doc, audience),
      );
    },
    async series(p: Params<typeof seriesParams>) {
      const g = await generationOf(p.generation);
      const equals = equalsOf(p, [
        "direction",
        "businessNumber",
        "template",
        "category",
        "country",
      ]);
      const rows = await reader.buckets(g, hourOf(p.from), hourAtOrAfter(p.to), equals);
      const groups = new Map<
        string,
        { key: Record<string, string>; totals: Totals; cost?: CostEstimate }
      >();
      for (const row of rows) {
        const period =
          p.granularity === "hour" ? row.hour : p.granularity === "day" ? row.day : "total";
        const key: Record<string, string> = { period };
        for (const d of p.groupBy) key[d] = row[d];
        const id = JSON.stringify(key);
        const group = groups.get(id) ?? { key, totals: emptyTotals };
        const cost =
          rateCard === undefined
            ? undefined
            : estimateCost(rateCard, row.country, row.totals.pricing);
        groups.set(id, {
          key,
          totals: mergeTotals(group.totals, row.totals),
          ...(cost === undefined ? {} : { cost: addCosts(group.cost, cost) }),
        });
      }
      const series = [...groups.values()]
        .sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1))
        .map(({ key, totals, cost }) => ({ ...key, ...totalsRow(totals, cost) }));
      return {
        from: p.from,
        to: p.to,
        granularity: p.granularity,
        groupBy: p.groupBy,
        ...(rateCard === undefined
          ? {}
          : { rateCard: { currency: rateCard.currency, source: rateCard.source } }),
        series,
      };
    },
    async kpis(p: Params<typeof kpiParams>) {
      const g = await generationOf(p.generation);
      const equals = equalsOf(p, ["businessNumber"]);
      const rows = await reader.buckets(g, hourOf(p.from), hourAtOrAfter(p.to), equals);
      const totals = rows.reduce((t, row) => mergeTotals(t, row.totals), emptyTotals);
      const templates = (await reader.templates(g, p.wabaId)).map(templateView);
      const decided = templates.filter(
        (t) =>
          t.firstDecision !== undefined &&
          t.firstDecision.at >= p.from &&
          t.firstDecision.at < p.to,
      );
      const approved = decided.filter((t) => t.firstDecision?.event === "APPROVED").length;
      const rates = ratesOf(totals);
      return {
        from: p.from,
        to: p.to,
        deliveryRate: rates.deliveryRate ?? null,
        readRate: rates.readRate ?? null,
        failureRate: rates.failureRate ?? null,
        templateApprovalRate: decided.length === 0 ? null : approved / decided.length,
        responseRate24h: rates.responseRate24h ?? null,
        medianToDeliveredMs: rates.medianToDeliveredMs ?? null,
        medianToReadMs: rates.medianToReadMs ?? null,
        medianResponseMs: rates.medianResponseMs ?? null,
        counts: {
          messagesSent: totals.messages.sent,
          delivered: totals.messages.delivered,
          read: totals.messages.read,
          requests: totals.requests.total,
          failed: totals.requests.failed,
          templatesDecided: decided.length,
          templatesApproved: approved,
          windowsOpened: totals.inbound.windowsOpened,
          answeredWithin24h: totals.inbound.answeredWithin24h,
        },
      };
    },
    async generations() {
      return { active: active(), generations: await generations.list() };
    },
  };
}

export type Queries = ReturnType<typeof createQueries>;
