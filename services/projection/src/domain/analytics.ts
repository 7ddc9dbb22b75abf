import type { MessageState } from "./message.js";
import type { FinalStatus, RequestState } from "./request.js";
import { reachedAt, pricingOf } from "./statuses.js";

/**
 * Delivery and cost analytics. Every request and message is a fact with a contribution to one
 * bucket (an hour, a direction, a business number, a template, a category, a country); a bucket's
 * totals are recomputed from its facts' contributions whenever one changes (the facts' read
 * models publish `BucketTouched`), so the totals are a function of the facts alone: the same after
 * a rebuild, in any arrival order. A series adds buckets together; medians come from histograms.
 */

/** A bucket's dimensions; unknown dimensions are "-". */
export interface BucketKey {
  /** The UTC hour, `2026-03-01T10`. */
  readonly hour: string;
  readonly direction: "out" | "in";
  readonly businessNumber: string;
  readonly template: string;
  readonly category: string;
  readonly country: string;
}

const UNKNOWN = "-";
const SEPARATOR = "|";

const dimension = (value: string | undefined): string =>
  value === undefined || value === "" ? UNKNOWN : value.replaceAll(SEPARATOR, "/");

/** The UTC hour of an instant (`2026-03-01T10`). */
export const hourOf = (iso: string): string => iso.slice(0, 13);

export function bucketId(key: BucketKey): string {
  return [
    key.hour,
    key.direction,
    dimension(key.businessNumber),
    dimension(key.template),
    dimension(key.category),
    dimension(key.country),
  ].join(SEPARATOR);
}

/** The dimensions of a bucket id; undefined for text that is not one. */
export function parseBucketId(id: string): BucketKey | undefined {
  const [hour, direction, businessNumber, template, category, country, extra] = id.split(SEPARATOR);
  if (
    hour === undefined ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}$/.test(hour) ||
    (direction !== "out" && direction !== "in") ||
    businessNumber === undefined ||
    template === undefined ||
    category === undefined ||
    country === undefined ||
    extra !== undefined
  )
    return undefined;
  return { hour, direction, businessNumber, template, category, country };
}

// ---- histograms: bins 10 % wide from 100 ms, so a median is within 5 % of the truth ----

/** Sparse histogram of durations: [bin, count] pairs sorted by bin. */
export type Histogram = readonly (readonly [number, number])[];

const BIN_BASE_MS = 100;
const BIN_GROWTH = 1.1;
const MAX_BIN = 220; // about 1.3 years

/** The bin of a duration: 0 below 100 ms, then one bin per 10 % of growth. */
export function binOf(ms: number): number {
  if (!(ms >= BIN_BASE_MS)) return 0;
  return Math.min(MAX_BIN, 1 + Math.floor(Math.log(ms / BIN_BASE_MS) / Math.log(BIN_GROWTH)));
}

const binStart = (bin: number): number => (bin === 0 ? 0 : BIN_BASE_MS * BIN_GROWTH ** (bin - 1));

export function addToHistogram(histogram: Histogram, bin: number, count = 1): Histogram {
  const out: [number, number][] = [];
  let added = false;
  for (const [b, c] of histogram) {
    if (!added && b > bin) {
      out.push([bin, count]);
      added = true;
    }
    out.push(b === bin ? [b, c + count] : [b, c]);
    if (b === bin) added = true;
  }
  if (!added) out.push([bin, count]);
  return out;
}

export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  let out = a;
  for (const [bin, count] of b) out = addToHistogram(out, bin, count);
  return out;
}

/** The median of a histogram, interpolated inside its bin (ms); undefined when empty. */
export function medianOf(histogram: Histogram): number | undefined {
  const total = histogram.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return undefined;
  const half = total / 2;
  let seen = 0;
  for (const [bin, count] of histogram) {
    if (seen + count >= half) {
      const [lo, hi] = [binStart(bin), binStart(bin + 1)];
      return Math.round(lo + ((half - seen) / count) * (hi - lo));
    }
    seen += count;
  }
  return undefined;
}

// ---- what each fact contributes ----

/** A request's contribution: its final word. */
export interface RequestContribution {
  readonly status: FinalStatus;
  readonly reason?: string;
  readonly code?: number;
}

/** An outbound message's contribution: how far it got, how fast, and its pricing. */
export interface OutboundContribution {
  readonly sent: boolean;
  readonly delivered: boolean;
  readonly read: boolean;
  readonly failed: boolean;
  readonly code?: number;
  readonly toDeliveredMs?: number;
  readonly toReadMs?: number;
  readonly pricingCategory?: string;
  readonly pricingType?: string;
}

/** An inbound message's contribution: received, and the window it opened (if any). */
export interface InboundContribution {
  readonly received: true;
  readonly windowOpened?: boolean;
  readonly freeEntryPoint?: boolean;
  readonly responseMs?: number;
}

export type Contribution =
  | { readonly kind: "request"; readonly request: RequestContribution }
  | { readonly kind: "outbound"; readonly outbound: OutboundContribution }
  | { readonly kind: "inbound"; readonly inbound: InboundContribution };

export const sameContribution = (a: Contribution | undefined, b: Contribution | undefined) =>
  JSON.stringify(a) === JSON.stringify(b);

export function bucketOfRequest(state: RequestState): string | undefined {
  const request = state.request;
  const at = request?.at ?? state.outcomes[0]?.occurredAt ?? state.dispatches[0]?.at;
  if (at === undefined) return undefined;
  const businessNumber =
    state.dispatches[0]?.businessNumber ??
    state.outcomes.find((o) => o.businessNumber !== undefined)?.businessNumber ??
    (request?.sender.kind === "businessNumber" ? request.sender.id : undefined);
  return bucketId({
    hour: hourOf(at),
    direction: "out",
    businessNumber: dimension(businessNumber),
    template: dimension(request?.content.template),
    category: dimension(request?.category),
    country: dimension(state.country),
  });
}

export function requestContribution(state: RequestState): Contribution | undefined {
  if (bucketOfRequest(state) === undefined) return undefined;
  const { status, reason, code } = state.final;
  return {
    kind: "request",
    request: {
      status,
      ...(status === "rejected" && reason !== undefined ? { reason } : {}),
      ...(status === "failed" && code !== undefined ? { code } : {}),
    },
  };
}

/** When an outbound message left: Meta's acceptance, else the first status Meta stated. */
function sentAtOf(state: MessageState): string | undefined {
  return reachedAt(state.timeline, "sent") ?? state.link?.acceptedAt ?? state.timeline[0]?.at;
}

export function bucketOfMessage(state: MessageState): string | undefined {
  if (state.direction === "inbound") {
    const at = state.inbound?.at;
    if (at === undefined) return undefined;
    return bucketId({
      hour: hourOf(at),
      direction: "in",
      businessNumber: dimension(state.businessNumber),
      template: UNKNOWN,
      category: UNKNOWN,
      country: dimension(state.country),
    });
  }
  const at = state.link?.acceptedAt ?? state.timeline[0]?.at;
  if (at === undefined) return undefined;
  return bucketId({
    hour: hourOf(at),
    direction: "out",
    businessNumber: dimension(state.link?.businessNumber ?? state.businessNumber),
    template: dimension(state.link?.template),
    category: dimension(state.link?.category),
    country: dimension(state.link?.country ?? state.country),
  });
}

const since = (from: string | undefined, to: string | undefined): number | undefined =>
  from === undefined || to === undefined
    ? undefined
    : Math.max(0, Date.parse(to) - Date.parse(from));

export function messageContribution(state: MessageState): Contribution | undefined {
  if (bucketOfMessage(state) === undefined) return undefined;
  if (state.direction === "inbound") {
    const w = state.window;
    const responseMs = since(w?.openedAt, w?.firstResponseAt);
    return {
      kind: "inbound",
      inbound: {
        received: true,
        ...(w === undefined
          ? {}
          : {
              windowOpened: true,
              freeEntryPoint: w.freeEntryPoint,
              ...(responseMs === undefined ? {} : { responseMs }),
            }),
      },
    };
  }
  const timeline = state.timeline;
  const failed = timeline.find((e) => e.status === "failed");
  const sentAt = sentAtOf(state);
  const deliveredAt = reachedAt(timeline, "delivered");
  const readAt = reachedAt(timeline, "read");
  const pricing = pricingOf(timeline);
  const toDeliveredMs = since(sentAt, deliveredAt);
  const toReadMs = since(sentAt, readAt);
  const code = failed?.errors?.[0]?.code;
  return {
    kind: "outbound",
    outbound: {
      sent: true,
      delivered: deliveredAt !== undefined,
      read: readAt !== undefined,
      failed: failed !== undefined,
      ...(code === undefined ? {} : { code }),
      ...(toDeliveredMs === undefined ? {} : { toDeliveredMs }),
      ...(toReadMs === undefined ? {} : { toReadMs }),
      ...(pricing === undefined ? {} : { pricingCategory: pricing.category }),
      ...(pricing?.type === undefined ? {} : { pricingType: pricing.type }),
    },
  };
}

// ---- a bucket's totals ----

export interface Totals {
  readonly requests: {
    readonly total: number;
    readonly pending: number;
    readonly accepted: number;
    readonly failed: number;
    readonly rejected: number;
    readonly expired: number;
    readonly deduplicated: number;
  };
  /** Rejected requests by reason. */
  readonly rejectedByReason: Counts;
  /** Requests whose final word is a failure, by Meta's code ("-" without one). */
  readonly failedByCode: Counts;
  readonly messages: {
    readonly sent: number;
    readonly delivered: number;
    readonly read: number;
    readonly failed: number;
  };
  readonly toDelivered: Histogram;
  readonly toRead: Histogram;
  /** Messages by Meta's pricing, keyed `category/type` (e.g. `marketing/regular`). */
  readonly pricing: Counts;
  readonly inbound: {
    readonly received: number;
    readonly windowsOpened: number;
    readonly freeEntryPoints: number;
    readonly answered: number;
    readonly answeredWithin24h: number;
    readonly responseTime: Histogram;
  };
}

export const emptyTotals: Totals = {
  requests: {
    total: 0,
    pending: 0,
    accepted: 0,
    failed: 0,
    rejected: 0,
    expired: 0,
    deduplicated: 0,
  },
  rejectedByReason: [],
  failedByCode: [],
  messages: { sent: 0, delivered: 0, read: 0, failed: 0 },
  toDelivered: [],
  toRead: [],
  pricing: [],
  inbound: {
    received: 0,
    windowsOpened: 0,
    freeEntryPoints: 0,
    answered: 0,
    answeredWithin24h: 0,
    responseTime: [],
  },
};

const DAY_MS = 24 * 60 * 60 * 1000;

/** The key of a pricing row: Meta's category and type (`marketing/regular`). */
export const pricingKey = (category: string, type: string | undefined): string =>
  `${category.replaceAll("/", "_")}/${(type ?? UNKNOWN).replaceAll("/", "_")}`;

/** [key, count] rows, sorted by key: a map that MongoDB stores whatever the keys hold. */
export type Counts = readonly (readonly [string, number])[];

/** `rows` with `add` more under `key` (a new row in key order when there was none). */
export function bump(rows: Counts, key: string, add: number): Counts {
  const index = rows.findIndex(([k]) => k >= key);
  const found = rows[index];
  if (found !== undefined && found[0] === key)
    return rows.map((row, i) => (i === index ? ([key, row[1] + add] as const) : row));
  const at = index === -1 ? rows.length : index;
  return [...rows.slice(0, at), [key, add] as const, ...rows.slice(at)];
}

/** Totals with one fact's contribution added. */
export function addContribution(totals: Totals, c: Contribution): Totals {
  switch (c.kind) {
    case "request": {
      const r = c.request;
      return {
        ...totals,
        requests: {
          ...totals.requests,
          total: totals.requests.total + 1,
          [r.status]: totals.requests[r.status] + 1,
        },
        rejectedByReason:
          r.status === "rejected"
            ? bump(totals.rejectedByReason, r.reason ?? UNKNOWN, 1)
            : totals.rejectedByReason,
        failedByCode:
          r.status === "failed"
            ? bump(totals.failedByCode, r.code === undefined ? UNKNOWN : String(r.code), 1)
            : totals.failedByCode,
      };
    }
    case "outbound": {
      const o = c.outbound;
      return {
        ...totals,
        messages: {
          sent: totals.messages.sent + 1,
          delivered: totals.messages.delivered + (o.delivered ? 1 : 0),
          read: totals.messages.read + (o.read ? 1 : 0),
          failed: totals.messages.failed + (o.failed ? 1 : 0),
        },
        toDelivered:
          o.toDeliveredMs === undefined
            ? totals.toDelivered
            : addToHistogram(totals.toDelivered, binOf(o.toDeliveredMs)),
        toRead:
          o.toReadMs === undefined
            ? totals.toRead
            : addToHistogram(totals.toRead, binOf(o.toReadMs)),
        pricing:
          o.pricingCategory === undefined
            ? totals.pricing
            : bump(totals.pricing, pricingKey(o.pricingCategory, o.pricingType), 1),
      };
    }
    case "inbound": {
      const i = c.inbound;
      const answered = i.responseMs !== undefined;
      return {
        ...totals,
        inbound: {
          received: totals.inbound.received + 1,
          windowsOpened: totals.inbound.windowsOpened + (i.windowOpened === true ? 1 : 0),
          freeEntryPoints: totals.inbound.freeEntryPoints + (i.freeEntryPoint === true ? 1 : 0),
          answered: totals.inbound.answered + (answered ? 1 : 0),
          answeredWithin24h:
            totals.inbound.answeredWithin24h + (answered && (i.responseMs ?? 0) <= DAY_MS ? 1 : 0),
          responseTime:
            i.responseMs === undefined
              ? totals.inbound.responseTime
              : addToHistogram(totals.inbound.responseTime, binOf(i.responseMs)),
        },
      };
    }
  }
}

/** The totals of a bucket from its facts' contributions (in any order: the sums are the same). */
export function rollup(contributions: Iterable<Contribution>): Totals {
  let totals = emptyTotals;
  for (const c of contributions) totals = addContribution(totals, c);
  return totals;
}

/** Two buckets' totals added (a series over several buckets). */
export function mergeTotals(a: Totals, b: Totals): Totals {
  const sumPairs = (x: Counts, y: Counts): Counts => {
    let out = x;
    for (const [key, count] of y) out = bump(out, key, count);
    return out;
  };
  const add = <T extends Record<string, number>>(x: T, y: T): T =>
    Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v + (y[k] ?? 0)])) as T;
  return {
    requests: add(a.requests, b.requests),
    rejectedByReason: sumPairs(a.rejectedByReason, b.rejectedByReason),
    failedByCode: sumPairs(a.failedByCode, b.failedByCode),
    messages: add(a.messages, b.messages),
    toDelivered: mergeHistograms(a.toDelivered, b.toDelivered),
    toRead: mergeHistograms(a.toRead, b.toRead),
    pricing: sumPairs(a.pricing, b.pricing),
    inbound: {
      received: a.inbound.received + b.inbound.received,
      windowsOpened: a.inbound.windowsOpened + b.inbound.windowsOpened,
      freeEntryPoints: a.inbound.freeEntryPoints + b.inbound.freeEntryPoints,
      answered: a.inbound.answered + b.inbound.answered,
      answeredWithin24h: a.inbound.answeredWithin24h + b.inbound.answeredWithin24h,
      responseTime: mergeHistograms(a.inbound.responseTime, b.inbound.responseTime),
    },
  };
}

/** The rates and medians an operator reads off totals (undefined where the divisor is 0). */
export function ratesOf(t: Totals) {
  const ratio = (n: number, d: number) => (d === 0 ? undefined : n / d);
  const decided = t.requests.accepted + t.requests.failed;
  return {
    deliveryRate: ratio(t.messages.delivered, t.messages.sent),
    readRate: ratio(t.messages.read, t.messages.delivered),
    failureRate: ratio(t.requests.failed, decided),
    messageFailureRate: ratio(t.messages.failed, t.messages.sent),
    medianToDeliveredMs: medianOf(t.toDelivered),
    medianToReadMs: medianOf(t.toRead),
    responseRate24h: ratio(t.inbound.answeredWithin24h, t.inbound.windowsOpened),
    medianResponseMs: medianOf(t.inbound.responseTime),
  };
}
