import { readFile } from "node:fs/promises";
import { parseRateCard, RateCardError, type RateCard } from "./rate-card.js";

/** The variable every service reads the operator's rate card file from (one name for all). */
export const RATE_CARD_VARIABLE = "PARLEY_RATE_CARD_FILE";

/**
 * The operator's rate card file (JSON), checked; a problem stops the start with every issue and
 * the variable that named the file, so the operator knows what to fix.
 */
export async function loadRateCard(path: string): Promise<RateCard> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new RateCardError(
      `${RATE_CARD_VARIABLE} ${path}: cannot be read as JSON (${error instanceof Error ? error.message : String(error)})`,
      error,
    );
  }
  const parsed = parseRateCard(value);
  if (!parsed.ok)
    throw new RateCardError(`${RATE_CARD_VARIABLE} ${path}: ${parsed.problems.join("; ")}`);
  return parsed.card;
}
