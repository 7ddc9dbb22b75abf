import type { MessageStatus } from "@parley/contracts";
import { compareStamps, type Stamp } from "./order.js";

/**
 * Invariant 4: statuses apply monotonically. Meta's status webhooks arrive in any order, repeated,
 * sometimes without `delivered`; the message's status is the highest one it has ever had, failed
 * above everything (terminal), then played, read, delivered, sent. Each status is kept once in the
 * timeline with the time Meta stated (not the time it arrived): the earliest stamp of that status.
 */
export const STATUS_RANK: Readonly<Record<MessageStatus, number>> = {
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
  failed: 5,
};

/** One status of a message as Meta stated it. */
export interface TimelineEntry extends Stamp {
  readonly status: MessageStatus;
  /** For a group message, the participant the status is about. */
  readonly participant?: string;
  /** Meta's errors on a failed status (code and title). */
  readonly errors?: readonly { readonly code: number; readonly title?: string }[];
  /** Per-message pricing, when this status carried it. */
  readonly pricing?: Pricing;
}

export interface Pricing {
  readonly pricingModel: string;
  readonly category: string;
  readonly type?: string;
  readonly billable?: boolean;
}

const entryKey = (e: Pick<TimelineEntry, "status" | "participant">): string =>
  `${e.status}|${e.participant ?? ""}`;

const byRankThenStamp = (a: TimelineEntry, b: TimelineEntry): number =>
  STATUS_RANK[a.status] - STATUS_RANK[b.status] || compareStamps(a, b);

/**
 * The timeline with `entry` applied: a status not seen yet is added, one seen already keeps its
 * earliest stamp. Sorted by rank, then stamp; the same list is returned when nothing changed.
 */
export function applyStatus(
  timeline: readonly TimelineEntry[],
  entry: TimelineEntry,
): readonly TimelineEntry[] {
  const key = entryKey(entry);
  const existing = timeline.find((e) => entryKey(e) === key);
  if (existing !== undefined && compareStamps(existing, entry) <= 0) return timeline;
  const rest = timeline.filter((e) => entryKey(e) !== key);
  return [...rest, entry].sort(byRankThenStamp);
}

/** The message's status: the highest rank in its timeline (failed is terminal). */
export function currentStatus(timeline: readonly TimelineEntry[]): MessageStatus | undefined {
  let best: TimelineEntry | undefined;
  for (const entry of timeline) {
    if (best === undefined || STATUS_RANK[entry.status] > STATUS_RANK[best.status]) best = entry;
  }
  return best?.status;
}

/** The first time the message reached `status` or any status above it (read implies delivered). */
export function reachedAt(
  timeline: readonly TimelineEntry[],
  status: MessageStatus,
): string | undefined {
  let at: string | undefined;
  for (const entry of timeline) {
    if (entry.status === "failed" && status !== "failed") continue;
    if (STATUS_RANK[entry.status] < STATUS_RANK[status]) continue;
    if (at === undefined || entry.at < at) at = entry.at;
  }
  return at;
}

/** The pricing of the earliest status that carried any: Meta repeats it on later statuses. */
export function pricingOf(timeline: readonly TimelineEntry[]): Pricing | undefined {
  let found: TimelineEntry | undefined;
  for (const entry of timeline) {
    if (entry.pricing === undefined) continue;
    if (found === undefined || compareStamps(entry, found) < 0) found = entry;
  }
  return found?.pricing;
}
