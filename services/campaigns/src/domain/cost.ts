import { categoryKey, marketOf, roundAmount, type RateCard } from "@parley/pricing";

/** One line of a cost table: a market and a pricing category. */
export interface CostLine {
  readonly market: string;
  readonly category: string;
  /** Messages charged (a forecast: expected to be; a reconciliation: Meta said so). */
  readonly billable: number;
  /** Messages Meta does not charge (a free window, a failure). */
  readonly free: number;
  /** Billable messages the card has no rate for: never counted as free. */
  readonly unpriced: number;
  readonly amount: number;
}

export interface CostTable {
  readonly currency: string;
  readonly billable: number;
  readonly free: number;
  readonly unpriced: number;
  readonly amount: number;
  /** By market then category, in name order. */
  readonly lines: readonly CostLine[];
}

/** The market name of a country no market and no `otherwise` of the card prices. */
export const UNPRICED_MARKET = "-";

/**
 * Totals by market and pricing category in the card's currency: the shape of the forecast and of
 * the reconciled cost, so the two read side by side. Amounts are summed per line from the count
 * times the rate (then rounded to millionths), so a table does not depend on the order of adds.
 */
export function createCostTable(card: RateCard) {
  const lines = new Map<
    string,
    { market: string; category: string; billable: number; free: number; rate?: number }
  >();
  return {
    /** `n` messages to `country` in `category`, billable or free. */
    add(country: string | undefined, category: string, billable: boolean, n = 1): void {
      const market = marketOf(card, country);
      const name = market?.market ?? UNPRICED_MARKET;
      const key = `${name}\u0000${categoryKey(category)}`;
      let line = lines.get(key);
      if (line === undefined) {
        const rate = market?.rates[categoryKey(category)];
        line = {
          market: name,
          category: categoryKey(category),
          billable: 0,
          free: 0,
          ...(rate === undefined ? {} : { rate }),
        };
        lines.set(key, line);
      }
      if (billable) line.billable += n;
      else line.free += n;
    },
    table(): CostTable {
      const out: CostLine[] = [...lines.values()]
        .sort((a, b) =>
          a.market === b.market
            ? a.category.localeCompare(b.category)
            : a.market.localeCompare(b.market),
        )
        .map((l) => ({
          market: l.market,
          category: l.category,
          billable: l.billable,
          free: l.free,
          unpriced: l.rate === undefined ? l.billable : 0,
          amount: l.rate === undefined ? 0 : roundAmount(l.rate * l.billable),
        }));
      return {
        currency: card.currency,
        billable: out.reduce((s, l) => s + l.billable, 0),
        free: out.reduce((s, l) => s + l.free, 0),
        unpriced: out.reduce((s, l) => s + l.unpriced, 0),
        amount: roundAmount(out.reduce((s, l) => s + l.amount, 0)),
        lines: out,
      };
    },
  };
}
