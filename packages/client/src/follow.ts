import type { SendOutcome, StatusEvent } from "./events.js";
import { finalOutcome, isSettled } from "./outcome.js";

/**
 * Follows one send request's life from the events of send-outcomes and statuses, which arrive on
 * two topics in any relative order: outcomes name the request (and a repeated idempotency key's
 * SendDeduplicated names the original, whose outcomes are then followed too); statuses name only
 * the wamid an accepted outcome carried, so a status that comes first waits until its wamid is
 * known. Pure: the CLI (`parley tail`) and tests feed it events and print what it returns.
 */

/** How far a request's life must get before following can stop. */
export type FollowUntil = "outcome" | "sent" | "delivered" | "read";

export type Followed =
  | { readonly kind: "outcome"; readonly event: SendOutcome }
  | { readonly kind: "status"; readonly event: StatusEvent };

const STATUS_RANK: Readonly<Record<string, number>> = {
  sent: 1,
  delivered: 2,
  read: 3,
  played: 3,
};

export interface RequestFollower {
  /** What to show for an outcome: the event itself when it concerns the request. */
  outcome(event: SendOutcome): readonly Followed[];
  /** What to show for a status: it and any earlier statuses whose wamid just became known. */
  status(event: StatusEvent): readonly Followed[];
  /** True once the request got as far as `until`, or ended. */
  readonly done: boolean;
}

export function followRequest(requestId: string, until: FollowUntil): RequestFollower {
  const requests = new Set([requestId]);
  const wamids = new Set<string>();
  const waiting = new Map<string, StatusEvent[]>();
  /** The outcomes of the request (and of the original a SendDeduplicated names). */
  const outcomes: SendOutcome[] = [];
  let ended = false;
  let furthest = 0;
  /** The request's answer so far (ADR 0009), following a repeated key to its original. */
  const answer = () => {
    const own = finalOutcome(requestId, outcomes);
    return own.status === "deduplicated" ? finalOutcome(own.originalRequestId, outcomes) : own;
  };

  const noteStatus = (event: StatusEvent): void => {
    if (event.data.status === "failed") ended = true;
    furthest = Math.max(furthest, STATUS_RANK[event.data.status] ?? 0);
  };

  return {
    outcome(event) {
      const data = event.data as { requestId: string; wamid?: string; originalRequestId?: string };
      if (!requests.has(data.requestId)) return [];
      const shown: Followed[] = [{ kind: "outcome", event }];
      outcomes.push(event);
      if (event.type === "SendDeduplicated" && data.originalRequestId !== undefined) {
        requests.add(data.originalRequestId);
        return shown;
      }
      if (data.wamid !== undefined && !wamids.has(data.wamid)) {
        wamids.add(data.wamid);
        for (const status of waiting.get(data.wamid) ?? []) {
          noteStatus(status);
          shown.push({ kind: "status", event: status });
        }
        waiting.delete(data.wamid);
      }
      return shown;
    },
    status(event) {
      if (!wamids.has(event.data.wamid)) {
        const list = waiting.get(event.data.wamid) ?? [];
        list.push(event);
        waiting.set(event.data.wamid, list);
        return [];
      }
      noteStatus(event);
      return [{ kind: "status", event }];
    },
    get done() {
      const now = answer();
      if (ended || isSettled(now)) return true;
      if (now.status === "pending") return false;
      return until === "outcome" || furthest >= (STATUS_RANK[until] ?? 0);
    },
  };
}

/** One line for a followed event, for people: what happened, to which request, and the key facts. */
export function describeFollowed(item: Followed): string {
  const { event } = item;
  const at = event.occurredAt;
  if (item.kind === "status") {
    const s = item.event.data;
    const error = s.errors?.[0];
    return `${at}  status ${s.status}  wamid=${s.wamid}${error === undefined ? "" : `  error=${String(error.code)} ${error.title ?? ""}`}`;
  }
  const d = item.event.data as Record<string, unknown>;
  const facts = ["wamid", "reason", "detail", "originalRequestId", "phase", "result"]
    .filter((k) => typeof d[k] === "string")
    .map((k) => `${k}=${String(d[k])}`);
  const error = d["error"] as { code?: number; errorClass?: string } | undefined;
  if (error !== undefined)
    facts.push(
      `error=${error.errorClass ?? ""}${error.code === undefined ? "" : `#${String(error.code)}`}`,
    );
  return `${at}  ${event.type}  request=${String(d["requestId"])}  ${facts.join("  ")}`.trimEnd();
}
