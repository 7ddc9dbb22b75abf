/** One dependency a service needs before it can do work (Kafka, the registry, MongoDB...). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency is usable right now; rejects (or aborts on `signal`) otherwise. */
  check(signal: AbortSignal): Promise<void>;
}

/** What a running part says about itself (a consumer joining its group, a producer failing). */
export interface ComponentStatus {
  readonly name: string;
  readonly state: "starting" | "ok" | "failing";
  readonly reason?: string;
  /** Since when (ms since the epoch), when known. */
  readonly since?: number;
}

/** Parts that report their own state without a probe, e.g. everything made from a Kafka client. */
export type StatusSource = () => readonly ComponentStatus[];

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error?: string;
}

/**
 * - `starting`: the process is up and connecting, or a component has not started work yet (a
 *   consumer still joining its group);
 * - `ready`: every dependency answers and every component works;
 * - `degraded`: it was started, and a dependency does not answer or a component is failing (a
 *   producer that could not recover): `reasons` say which and why;
 * - `shutting-down`: a graceful shutdown has begun.
 * Only `ready` answers 200 on /readyz; the others are 503.
 */
export type ReadinessState = "starting" | "ready" | "degraded" | "shutting-down";

/** Where the service is in its life: before its components are started, serving, or stopping. */
export type LifePhase = "starting" | "running" | "stopping";

export interface ReadinessReport {
  readonly state: ReadinessState;
  /** True for `ready` only. */
  readonly ready: boolean;
  /** Why it is not ready: one line per failing check, failing or starting component, or phase. */
  readonly reasons: readonly string[];
  readonly checks: readonly CheckResult[];
  readonly components: readonly ComponentStatus[];
}

/** Runs every check concurrently, each bounded by `timeoutMs`, so one hung dependency cannot hang the probe. */
export async function runChecks(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
  now: () => number = performance.now.bind(performance),
): Promise<CheckResult[]> {
  return Promise.all(
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
}

/**
 * The readiness state from the life phase, the checks' results and the components' own reports.
 * A failure outranks a component still starting once the service runs: a consumer that cannot
 * join because the broker is down is degraded (the broker is the news), not starting.
 */
export function readinessOf(
  phase: LifePhase,
  checks: readonly CheckResult[],
  components: readonly ComponentStatus[],
): ReadinessReport {
  const failing = [
    ...checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error ?? "failing"}`),
    ...components
      .filter((c) => c.state === "failing")
      .map((c) => `${c.name}: ${c.reason ?? "failing"}`),
  ];
  const starting = components
    .filter((c) => c.state === "starting")
    .map((c) => `${c.name}: ${c.reason ?? "starting"}`);
  const report = (state: ReadinessState, reasons: readonly string[]): ReadinessReport => ({
    state,
    ready: state === "ready",
    reasons,
    checks,
    components,
  });
  if (phase === "stopping") return report("shutting-down", ["a graceful shutdown has begun"]);
  if (phase === "starting")
    return report("starting", [
      "connecting to its dependencies and starting its components",
      ...starting,
      ...failing,
    ]);
  if (failing.length > 0) return report("degraded", [...failing, ...starting]);
  if (starting.length > 0) return report("starting", starting);
  return report("ready", []);
}

/** Runs the checks (not while stopping) and reads the components, then judges. */
export async function runReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
  {
    phase = "running",
    sources = [],
    now,
  }: {
    phase?: LifePhase;
    sources?: readonly StatusSource[];
    now?: () => number;
  } = {},
): Promise<ReadinessReport> {
  const results = phase === "stopping" ? [] : await runChecks(checks, timeoutMs, now);
  return readinessOf(
    phase,
    results,
    sources.flatMap((s) => s()),
  );
}
