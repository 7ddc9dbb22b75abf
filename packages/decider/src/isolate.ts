import { isOutage } from "@parley/errors";

/**
 * Runs one step for a whole batch in one call. If that call fails with an outage, the outage is
 * thrown: the whole batch waits it out. If it fails for any other reason, the step runs again for
 * each item alone, so an item the step can never take (a poison document, an event the broker
 * refuses) fails alone and the others go on; from then on each item's outcome is its own (an
 * outage met by one item fails that item only, and what the others completed stands).
 * Resolves with the items that failed alone and why.
 */
export async function tryTogether<T>(
  items: readonly T[],
  together: (items: readonly T[]) => Promise<void>,
  alone: (item: T) => Promise<void>,
): Promise<ReadonlyMap<T, unknown>> {
  const failures = new Map<T, unknown>();
  if (items.length === 0) return failures;
  try {
    await together(items);
    return failures;
  } catch (error) {
    if (isOutage(error)) throw error;
  }
  await Promise.all(
    items.map(async (item) => {
      try {
        await alone(item);
      } catch (error) {
        failures.set(item, error);
      }
    }),
  );
  return failures;
}
