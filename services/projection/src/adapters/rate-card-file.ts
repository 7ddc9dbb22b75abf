import { readFile } from "node:fs/promises";
import { parseRateCard, type RateCard } from "../domain/rate-card.js";

/** The operator's rate card file (JSON), checked; a problem stops the start with every issue. */
export async function loadRateCard(path: string): Promise<RateCard> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(
      `PROJECTION_RATE_CARD_FILE ${path}: cannot be read as JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const parsed = parseRateCard(value);
  if (!parsed.ok)
    throw new Error(`PROJECTION_RATE_CARD_FILE ${path}: ${parsed.problems.join("; ")}`);
  return parsed.card;
}
