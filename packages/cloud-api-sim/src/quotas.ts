// Meta's limits on sending: throughput per number, pair pacing, the service window, the
// messaging limit, the per-user marketing limit and the management call budget (reference §3).
import { admitPair, pairIdle } from "./pair-pacing.js";
import { bounded, DAY, trimFront, type Engine, type NumberState } from "./state.js";

const MAX_PAIRS = 200_000;

export interface Quotas {
  /**
   * At most `mps` messages (inbound included) in any sliding second: the oldest of the last `mps`
   * must be a second old. Meta's exact algorithm is undisclosed; this one never lets a burst
   * through. `force` counts a message that is never refused (inbound).
   */
  takeThroughput(pn: NumberState, now: number, force?: boolean): boolean;
  /** Pair pacing (pair-pacing.ts); a refusal is recorded for pairPacing(). */
  takePair(pn: NumberState, waId: string, now: number): boolean;
  noteAccepted(pn: NumberState, now: number): void;
  windowOpen(pn: NumberState, waId: string, now: number): boolean;
  /** Messaging limit: may a business-initiated send reach this user now? Records it if so. */
  takeReach(waId: string, now: number): boolean;
  /** The per-user marketing limit: may this marketing template be delivered? Records it if so. */
  takeMarketing(waId: string, now: number): boolean;
  messagingLimitTier(): string;
  /** Counts a management call against the WABA's hourly budget; false over it (80007). */
  countManagementCall(wabaId: string): boolean;
  /** `x-business-use-case-usage` for the WABA: its share of the hourly budget used. */
  usageHeader(wabaId: string): Record<string, string>;
}

export function createQuotas(engine: Engine): Quotas {
  const { config, clock } = engine;
  /**
   * Messaging limit: wa_id -> last business-initiated send, and those sends in time order (an
   * entry is live while it is the user's latest; the log is compacted to about the live ones).
   */
  const reach = new Map<string, number>();
  let reachLog: { at: number; waId: string }[] = [];
  let reachHead = 0;
  /** Per-user marketing limit: wa_id -> times of marketing templates outside a window. */
  const marketingLog = new Map<string, number[]>();
  const mgmtCalls = new Map<string, { hour: number; count: number }>();
  /** The usage header per WABA at its current percentage: built once, sent with every send. */
  const usageCache = new Map<string, { pct: number; header: Record<string, string> }>();

  function prunePairs(pn: NumberState, now: number): void {
    for (const [waId, s] of pn.pairs) if (pairIdle(s, now)) pn.pairs.delete(waId);
    bounded(pn.pairs, MAX_PAIRS);
  }

  return {
    takeThroughput(pn, now, force = false) {
      const oldest = pn.window[pn.windowHead] ?? -Infinity;
      if (!force && oldest > now - 1000) return false;
      pn.window[pn.windowHead] = now;
      pn.windowHead = (pn.windowHead + 1) % pn.window.length;
      return true;
    },
    takePair(pn, waId, now) {
      const state = pn.pairs.get(waId);
      const next = admitPair(config.pair, state, now);
      if (next === undefined) {
        let list = pn.pairRejected.get(waId);
        if (list === undefined) {
          list = [];
          pn.pairRejected.set(waId, list);
          bounded(pn.pairRejected, MAX_PAIRS);
        }
        list.push(now);
        trimFront(list, 1_000);
        return false;
      }
      if (state === undefined) {
        pn.pairs.set(waId, next);
        if (pn.pairs.size > MAX_PAIRS) prunePairs(pn, now);
      }
      return true;
    },
    noteAccepted(pn, now) {
      pn.accepted++;
      pn.recent.push(now);
      while (pn.recentHead < pn.recent.length && (pn.recent[pn.recentHead] ?? now) <= now - 1000)
        pn.recentHead++;
      pn.maxInSecond = Math.max(pn.maxInSecond, pn.recent.length - pn.recentHead);
      if (pn.recentHead > 4096) {
        pn.recent.splice(0, pn.recentHead);
        pn.recentHead = 0;
      }
    },
    windowOpen(pn, waId, now) {
      const last = pn.windows.get(waId);
      return last !== undefined && now - last < config.serviceWindowMs;
    },
    takeReach(waId, now) {
      const limit = config.messagingLimit;
      if (limit === "unlimited") return true;
      const since = now - DAY;
      for (let e = reachLog[reachHead]; e !== undefined && e.at <= since; e = reachLog[reachHead]) {
        if (reach.get(e.waId) === e.at) reach.delete(e.waId);
        reachHead++;
      }
      if (!reach.has(waId) && reach.size >= limit) return false;
      reach.set(waId, now);
      reachLog.push({ at: now, waId });
      if (reachLog.length - reachHead > 2 * reach.size + 1024) {
        // Mostly superseded entries (users reached again): keep only each user's latest.
        reachLog = reachLog.slice(reachHead).filter((e) => reach.get(e.waId) === e.at);
        reachHead = 0;
      } else if (reachHead > 4096) {
        reachLog.splice(0, reachHead);
        reachHead = 0;
      }
      return true;
    },
    takeMarketing(waId, now) {
      if (config.marketing.pauseUsRecipients === true && waId.startsWith("1")) return false;
      const cap = config.marketing.perUserPer24h;
      if (cap === undefined) return true;
      const times = (marketingLog.get(waId) ?? []).filter((t) => t > now - DAY);
      if (times.length >= cap) {
        marketingLog.set(waId, times);
        return false;
      }
      times.push(now);
      marketingLog.set(waId, times);
      bounded(marketingLog, 1_000_000);
      return true;
    },
    messagingLimitTier() {
      const limit = config.messagingLimit;
      if (limit === "unlimited") return "TIER_UNLIMITED";
      if (limit >= 1000 && limit % 1000 === 0) return `TIER_${String(limit / 1000)}K`;
      return `TIER_${String(limit)}`;
    },
    countManagementCall(wabaId) {
      const hour = Math.floor(clock.now() / 3_600_000);
      const c = mgmtCalls.get(wabaId);
      if (!c || c.hour !== hour) {
        mgmtCalls.set(wabaId, { hour, count: 1 });
        return true;
      }
      c.count++;
      return c.count <= config.managementCallsPerHour;
    },
    usageHeader(wabaId) {
      const c = mgmtCalls.get(wabaId);
      const current = c !== undefined && c.hour === Math.floor(clock.now() / 3_600_000);
      const used = current ? c.count : 0;
      const pct = Math.min(100, Math.round((used * 100) / config.managementCallsPerHour));
      const last = usageCache.get(wabaId);
      if (last !== undefined && last.pct === pct) return last.header;
      let header: Record<string, string>;
      {
        // Minutes until the hour's budget starts over, once it is spent.
        const regain =
          used > config.managementCallsPerHour ? 60 - (Math.floor(clock.now() / 60_000) % 60) : 0;
        header = {
          "x-business-use-case-usage": JSON.stringify({
            [wabaId]: [
              {
                type: "whatsapp",
                call_count: pct,
                total_cputime: 1,
                total_time: 1,
                estimated_time_to_regain_access: regain,
              },
            ],
          }),
        };
        // The regain time changes by the minute while over budget: cache only within budget.
        if (regain === 0) {
          if (usageCache.size > 10_000) usageCache.clear();
          usageCache.set(wabaId, { pct, header });
        }
      }
      return header;
    },
  };
}
