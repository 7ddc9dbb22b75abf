// What tests read back: accepted messages with their status times, per-user views, pair
// pacing per recipient and per-number counters.
import type { OutboundMessage } from "@parley/cloud-api";
import type { PairPacingRule } from "./options.js";
import { overLimit } from "./pair-pacing.js";
import type { Recipients } from "./recipients.js";
import type { Engine, OutRecord } from "./state.js";
import type { NumberStats, PairPacing, SentMessage, StatusEvent } from "./types.js";

export interface Inspection {
  messages(filter?: { readonly to?: string; readonly phoneNumberId?: string }): SentMessage[];
  received(waId: string): SentMessage[];
  pairPacing(filter?: {
    readonly to?: string;
    readonly phoneNumberId?: string;
    readonly rule?: PairPacingRule;
    readonly burst?: number;
    readonly refillMs?: number;
  }): PairPacing[];
  stats(): NumberStats[];
  resetStats(): void;
}

export function createInspection(engine: Engine, recipients: Recipients): Inspection {
  const { clock, config, messages, numbers } = engine;

  function view(m: OutRecord): SentMessage {
    const now = clock.now();
    const statuses: StatusEvent[] = [];
    if (m.sentAt <= now) statuses.push({ status: "sent", at: m.sentAt });
    if (m.deliveredAt <= now) statuses.push({ status: "delivered", at: m.deliveredAt });
    if (m.readAt <= now) statuses.push({ status: "read", at: m.readAt });
    const failed = m.failedAt <= now;
    if (failed) statuses.push({ status: "failed", at: m.failedAt });
    statuses.sort((a, b) => a.at - b.at);
    // The request body is parsed only when a test reads `message` (an own enumerable getter, so
    // JSON.stringify and spreads still include it): listing 100,000 sends stays cheap.
    let message: OutboundMessage | undefined;
    const raw = m.raw;
    return {
      wamid: m.wamid,
      phoneNumberId: m.phoneNumberId,
      input: m.input,
      waId: m.waId,
      type: m.type,
      get message(): OutboundMessage {
        if (message === undefined) {
          const parsed = JSON.parse(raw) as Record<string, unknown>;
          if (typeof parsed["type"] !== "string") parsed["type"] = "text";
          message = parsed as unknown as OutboundMessage;
        }
        return message;
      },
      acceptedAt: m.acceptedAt,
      callbackData: m.callbackData,
      ...(m.userId !== undefined ? { recipientUserId: m.userId } : {}),
      statuses,
      failure: failed ? m.failureCode : undefined,
    };
  }

  const canonical = (to: string): string => recipients.canonicalWaId(to.replace(/\D/g, ""));

  return {
    messages(filter = {}) {
      const waId = filter.to === undefined ? undefined : canonical(filter.to);
      return [...messages.values()]
        .map(view)
        .filter(
          (m) =>
            (waId === undefined || m.waId === waId) &&
            (filter.phoneNumberId === undefined || m.phoneNumberId === filter.phoneNumberId),
        );
    },
    received(waId) {
      const id = canonical(waId);
      return [...messages.values()].filter((m) => m.waId === id).map(view);
    },
    pairPacing(filter = {}) {
      const waIdFilter = filter.to === undefined ? undefined : canonical(filter.to);
      const rule = {
        ...config.pair,
        ...(filter.rule !== undefined ? { rule: filter.rule } : {}),
        ...(filter.burst !== undefined ? { burst: filter.burst } : {}),
        ...(filter.refillMs !== undefined ? { refillMs: filter.refillMs } : {}),
      };
      const byPair = new Map<string, { phoneNumberId: string; waId: string; times: number[] }>();
      const want = (phoneNumberId: string, waId: string): boolean =>
        (waIdFilter === undefined || waId === waIdFilter) &&
        (filter.phoneNumberId === undefined || phoneNumberId === filter.phoneNumberId);
      for (const m of messages.values()) {
        if (!want(m.phoneNumberId, m.waId)) continue;
        const key = `${m.phoneNumberId}:${m.waId}`;
        let e = byPair.get(key);
        if (!e) {
          e = { phoneNumberId: m.phoneNumberId, waId: m.waId, times: [] };
          byPair.set(key, e);
        }
        e.times.push(m.acceptedAt);
      }
      for (const pn of numbers.values()) {
        for (const waId of pn.pairRejected.keys()) {
          const key = `${pn.id}:${waId}`;
          if (!byPair.has(key) && want(pn.id, waId))
            byPair.set(key, { phoneNumberId: pn.id, waId, times: [] });
        }
      }
      return [...byPair.values()].map((e) => {
        const rejectedAt = [...(numbers.get(e.phoneNumberId)?.pairRejected.get(e.waId) ?? [])];
        const overLimitAt = overLimit(rule, e.times);
        return {
          phoneNumberId: e.phoneNumberId,
          waId: e.waId,
          acceptedAt: e.times,
          rejectedAt,
          overLimitAt,
          ok: rejectedAt.length === 0 && overLimitAt.length === 0,
        };
      });
    },
    resetStats() {
      for (const n of numbers.values()) {
        n.accepted = 0;
        n.rejectedByCode.clear();
        n.recent.length = 0;
        n.recentHead = 0;
        n.maxInSecond = 0;
      }
    },
    stats() {
      return [...numbers.values()].map((n) => ({
        phoneNumberId: n.id,
        accepted: n.accepted,
        rejectedByCode: Object.fromEntries([...n.rejectedByCode].map(([k, v]) => [String(k), v])),
        maxAcceptedInAnySecond: n.maxInSecond,
        throughputMps: n.mps,
      }));
    },
  };
}
