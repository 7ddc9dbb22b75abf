import { countryOfContact, type RateCard } from "@parley/pricing";
import type { CampaignDefinition } from "./campaign.js";
import { createCostTable, type CostTable } from "./cost.js";

/**
 * From this instant Meta also charges utility templates delivered inside an open customer
 * service window (reference/cloud-api.md, section 7, item 5, announced 2026-07-01). Before it,
 * per-message pricing (from 2025-07-01) made them free.
 */
export const UTILITY_IN_WINDOW_BILLED_FROM = Date.parse("2026-10-01T00:00:00Z");

/**
 * The end of a free-entry-point window opened with a 24 h service window expiring at
 * `windowExpiresAt`: 72 h from the opening (the earliest the business can reply), the least Meta
 * grants when the business replies within the 24 h (cloud-api.md section 7, item 4).
 */
export const freeEntryPointUntilOf = (windowExpiresAt: string): string =>
  new Date(Date.parse(windowExpiresAt) + 48 * 3_600_000).toISOString();

/**
 * Whether Meta charges a delivered template of `category` (per-message pricing, cloud-api.md
 * section 7): never inside a free-entry-point window (72 h after a Click-to-WhatsApp ad or Page
 * CTA: every template free, also from 2026-10-01); marketing and authentication otherwise always;
 * utility unless it is delivered inside an open customer-service window before 2026-10-01.
 */
export function isBillable(
  category: CampaignDefinition["category"],
  windowOpen: boolean,
  at: Date,
  freeEntryPoint = false,
): boolean {
  if (freeEntryPoint) return false;
  if (category !== "utility") return true;
  return !windowOpen || at.getTime() >= UTILITY_IN_WINDOW_BILLED_FROM;
}

/** A planned recipient as the forecast sees it. */
export interface ForecastRecipient {
  readonly contactId: string;
  /** An open customer-service window when the plan decided (the plan's `limited` negated). */
  readonly windowOpen: boolean;
  /** An open free-entry-point window when the plan decided: free, whatever the category. */
  readonly freeEntryPoint?: boolean | undefined;
}

export interface Forecast extends CostTable {
  readonly category: CampaignDefinition["category"];
  /** Planned recipients priced (every one, billable or free). */
  readonly recipients: number;
  /** The instant the billing rules were taken at: the schedule's start. */
  readonly at: string;
}

/**
 * The cost forecast of a campaign (issue 27): each planned recipient priced by their market (the
 * country of their number) and the template's category, billable unless a free window applies,
 * totals by market and category in the card's currency. Pure; a fold, so an audience of
 * millions is never held.
 */
export function createForecast(card: RateCard, campaign: CampaignDefinition) {
  const at = new Date(campaign.schedule.startAt);
  const table = createCostTable(card);
  let recipients = 0;
  return {
    add(r: ForecastRecipient): void {
      recipients += 1;
      table.add(
        countryOfContact(r.contactId),
        campaign.category,
        isBillable(campaign.category, r.windowOpen, at, r.freeEntryPoint === true),
      );
    },
    /** Many recipients of one market and window at once (from a grouped query). */
    addCount(
      country: string | undefined,
      windowOpen: boolean,
      n: number,
      freeEntryPoint = false,
    ): void {
      recipients += n;
      table.add(
        country,
        campaign.category,
        isBillable(campaign.category, windowOpen, at, freeEntryPoint),
        n,
      );
    },
    result(): Forecast {
      return {
        ...table.table(),
        category: campaign.category,
        recipients,
        at: at.toISOString(),
      };
    },
  };
}
