export { countryOfContact } from "./country.js";
export { loadRateCard, RATE_CARD_VARIABLE } from "./load.js";
export {
  RateCardError,
  addCosts,
  categoryKey,
  estimateCost,
  marketOf,
  parseRateCard,
  rateCardSchema,
  rateOf,
  roundAmount,
  type CostEstimate,
  type Counts,
  type RateCard,
} from "./rate-card.js";
