/** One dependency a service needs before it can do work (Kafka, the registry, MongoDB...). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency is usable right now; rejects (or aborts on `signal`) otherwise. */
  check(signal: AbortSignal): Promise<void>;
}

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: readonly CheckResult[];
}

/** Runs every check concurrently, each bounded by `timeoutMs`, so one hung dependency cannot hang the probe. */
export async function runReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
  now: () => number = performance.now.bind(performance),
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c): Promise<CheckResult> => {
      const started = now();
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        await Promise.race([c.check(controller.signal), timeout]);
        return { name: c.name, ok: true, latencyMs: Math.round(now() - started) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { name: c.name, ok: false, latencyMs: Math.round(now() - started), error: message };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every((r) => r.ok), checks: results };
}
