export interface WaitForOptions {
  /** Gives up after this long; there is always a deadline. */
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Said in the error when the deadline passes, e.g. "3 records on orders.out". */
  readonly description?: string;
}

export class WaitForTimeoutError extends Error {
  override readonly name = "WaitForTimeoutError";
  constructor(
    readonly description: string,
    readonly timeoutMs: number,
    readonly lastError: unknown,
  ) {
    const last = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
    super(`waited ${timeoutMs} ms for ${description} without success${last}`, { cause: lastError });
  }
}

/**
 * Polls `probe` until it returns something other than `undefined`/`false` (or stops throwing),
 * and returns that value. Tests wait on conditions this way, never with fixed sleeps.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, description = "the condition" }: WaitForOptions = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) throw new WaitForTimeoutError(description, timeoutMs, lastError);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
}
