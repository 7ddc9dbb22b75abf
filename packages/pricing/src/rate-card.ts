import { ParleyError } from "@parley/errors";
import { z } from "zod";

/**
 * The operator's rate card: what the operator pays per billable message, per market and pricing
 * category, in one currency. Parley ships an example (`rate-card.example.json`), never Meta's
 * prices: those depend on the operator's contract, currency and date, and change. A market is a
 * list of ISO 3166 alpha-2 countries; `otherwise` prices every country no market names. One
 * definition for every service (ADR 0015): the projection prices its analytics with it, campaigns
 * its forecasts and reconciled costs.
 */
const rates = z
  .record(
    z.string().regex(/^[a-z_]{1,64}$/, "a pricing category, e.g. marketing"),
    z.number().min(0),
  )
  .describe("Price per billable message by Meta's pricing category (marketing, utility, ...).");

export const rateCardSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code, e.g. USD"),
  /** Free text: where the figures come from (the operator's contract, an invoice...). */
  source: z.string().min(1).max(500),
  effectiveFrom: z.iso.date().optional(),
  markets: z
    .array(
      z.strictObject({
        market: z.string().min(1).max(100),
        countries: z.array(z.string().regex(/^[A-Z]{2}$/, "ISO 3166 alpha-2")).min(1),
        rates,
      }),
    )
    .max(500),
  otherwise: z.strictObject({ market: z.string().min(1).max(100), rates }).optional(),
});
export type RateCard = z.infer<typeof rateCardSchema>;

/** A rate card's problems in words (each with its path), or the card. */
export function parseRateCard(
  value: unknown,
): { ok: true; card: RateCard } | { ok: false; problems: string[] } {
  const parsed = rateCardSchema.safeParse(value);
  if (!parsed.success)
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    };
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const m of parsed.data.markets) {
    for (const c of m.countries) {
      const other = seen.get(c);
      if (other !== undefined) problems.push(`${c} is in two markets: ${other} and ${m.market}`);
      seen.set(c, m.market);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, card: parsed.data };
}

/** Counts by `category/type` key, as the read side keeps Meta's pricing. */
export type Counts = readonly (readonly [string, number])[];

/**
 * Meta's pricing category as a rate card key: Meta's status reference spells
 * `authentication-international` with a hyphen where the SDKs write an underscore
 * (reference/cloud-api.md, section 12); both are one category.
 */
export const categoryKey = (category: string): string => category.replace(/-/g, "_");

/** The market (its name and rates) that prices `country`, or undefined when the card has none. */
export function marketOf(
  card: RateCard,
  country: string | undefined,
): { readonly market: string; readonly rates: Readonly<Record<string, number>> } | undefined {
  const named =
    country === undefined ? undefined : card.markets.find((m) => m.countries.includes(country));
  return named ?? card.otherwise;
}

/**
 * The price of one billable message to `country` in `category` (Meta's pricing category), in
 * the card's currency; undefined when the card has no rate for it (the caller counts it
 * unpriced, never as free).
 */
export function rateOf(
  card: RateCard,
  country: string | undefined,
  category: string,
): number | undefined {
  return marketOf(card, country)?.rates[categoryKey(category)];
}

/** A rate card file that cannot be used: the service does not start (retry never helps). */
export class RateCardError extends ParleyError {
  override readonly name = "RateCardError";
  constructor(message: string, cause?: unknown) {
    super(message, { retry: "never", ...(cause === undefined ? {} : { cause }) });
  }
}

export interface CostEstimate {
  readonly currency: string;
  readonly amount: number;
  /** Billable messages the card has no rate for (their country's market lacks the category). */
  readonly unpriced: number;
}

/** Only `regular` messages are billed under per-message pricing; free ones cost nothing. */
const BILLABLE_TYPE = "regular";

/**
 * The estimated cost of one bucket's messages: its `category/type` pricing counts (as Meta's
 * pricing said) times the rate of the bucket's country's market. Amounts are rounded to
 * millionths of the currency unit.
 */
export function estimateCost(card: RateCard, country: string, pricing: Counts): CostEstimate {
  let amount = 0;
  let unpriced = 0;
  for (const [key, count] of pricing) {
    const [category = "", type = ""] = key.split("/");
    if (type !== BILLABLE_TYPE) continue;
    const rate = rateOf(card, country, category);
    if (rate === undefined) unpriced += count;
    else amount += rate * count;
  }
  return { currency: card.currency, amount: Math.round(amount * 1e6) / 1e6, unpriced };
}

/** Amounts in millionths of the currency unit, so sums of many messages do not drift. */
export const roundAmount = (amount: number): number => Math.round(amount * 1e6) / 1e6;

/** Two estimates of one card added together. */
export function addCosts(a: CostEstimate | undefined, b: CostEstimate): CostEstimate {
  if (a === undefined) return b;
  return {
    currency: a.currency,
    amount: Math.round((a.amount + b.amount) * 1e6) / 1e6,
    unpriced: a.unpriced + b.unpriced,
  };
}
