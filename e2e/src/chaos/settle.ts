// The chaos run's waits, adaptive (issue 26): after the load, and after MongoDB comes back, the
// run waits for the work to be done rather than for a fixed time, so that a slow machine gives a
// slower pass, not a false failure. Done: every request answered and the lag of every consumer
// group of the run's services at zero. Bounded twice: an overall bound, and a stall bound (no
// new low of the outstanding work for that long: the backlog is not being worked off).
import { setTimeout as sleep } from "node:timers/promises";
import { lagOf, type Admin, type GroupTopics } from "./lag.js";

/**
 * The consumer groups of the run's services in a namespace (`<prefix>parley.<consumer>`), each
 * with the topics it has committed offsets on; the run's own readers (`exclude`) left out.
 */
export async function serviceGroups(
  admin: Admin,
  prefix: string,
  exclude: readonly string[],
): Promise<GroupTopics[]> {
  const { groups } = await admin.listGroups();
  const ours = groups
    .map((g) => g.groupId)
    .filter((g) => g.startsWith(`${prefix}parley.`) && !exclude.some((x) => g.endsWith(x)))
    .sort();
  const out: GroupTopics[] = [];
  for (const group of ours) {
    const topics = (await admin.fetchOffsets({ groupId: group })).map((t) => t.topic);
    if (topics.length > 0) out.push({ group, topics });
  }
  return out;
}

export interface SettleProgress {
  readonly unanswered: number;
  /** Lag per group (short name: without the namespace prefix). */
  readonly lags: Readonly<Record<string, number>>;
}

export interface SettleResult extends SettleProgress {
  readonly settled: boolean;
  readonly waitedMs: number;
  /** Why it stopped waiting when not settled: the overall bound or a stall. */
  readonly reason?: string;
}

export interface SettleOptions {
  readonly admin: Admin;
  /** The groups to wait for (read again each round: a group appears at its first commit). */
  readonly groups: () => Promise<readonly GroupTopics[]>;
  /** Requests without a final word so far (0 when the wait is only for lag). */
  readonly unanswered: () => number;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly stallMs: number;
  /** Done when the total outstanding (unanswered + lag) is at most this (default 0). */
  readonly target?: number;
  readonly log: (line: string) => void;
  readonly label: string;
  readonly intervalMs?: number;
  readonly progressEveryMs?: number;
  /** Ends the wait (not settled) when aborted: a run torn down stops its background waits. */
  readonly signal?: AbortSignal;
}

const describe = (p: SettleProgress) =>
  `${String(p.unanswered)} requests without a final word; lag ${Object.entries(p.lags)
    .map(([g, l]) => `${g} ${String(l)}`)
    .join(", ")}`;

export async function settle(o: SettleOptions): Promise<SettleResult> {
  const started = Date.now();
  const target = o.target ?? 0;
  let best = Number.POSITIVE_INFINITY;
  let bestAt = started;
  let lastLine = 0;
  let last: SettleProgress = { unanswered: o.unanswered(), lags: {} };
  for (;;) {
    const lags: Record<string, number> = {};
    let lagKnown = true;
    for (const g of await o.groups().catch(() => [])) {
      const l = await lagOf(o.admin, [g]).catch(() => Number.NaN);
      if (Number.isNaN(l)) lagKnown = false;
      lags[g.group.slice(o.prefix.length).replace(/^parley\./, "")] = l;
    }
    last = { unanswered: o.unanswered(), lags };
    const outstanding =
      last.unanswered + Object.values(lags).reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
    const now = Date.now();
    if (lagKnown && outstanding <= target)
      return { ...last, settled: true, waitedMs: now - started };
    if (outstanding < best) {
      best = outstanding;
      bestAt = now;
    }
    if (o.signal?.aborted === true)
      return { ...last, settled: false, waitedMs: now - started, reason: "aborted" };
    if (now - started >= o.timeoutMs)
      return {
        ...last,
        settled: false,
        waitedMs: now - started,
        reason: `not done within ${String(o.timeoutMs / 1_000)} s`,
      };
    if (now - bestAt >= o.stallMs)
      return {
        ...last,
        settled: false,
        waitedMs: now - started,
        reason: `no progress for ${String(o.stallMs / 1_000)} s`,
      };
    if (now - lastLine >= (o.progressEveryMs ?? 10_000)) {
      lastLine = now;
      o.log(`${o.label}: ${((now - started) / 1_000).toFixed(0)} s: ${describe(last)}`);
    }
    await sleep(o.intervalMs ?? 1_000);
  }
}

export const describeSettle = (r: SettleResult): string =>
  `${r.settled ? "settled" : `not settled (${r.reason ?? "?"})`} after ${(r.waitedMs / 1_000).toFixed(1)} s: ${describe(r)}`;
