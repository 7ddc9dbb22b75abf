import type { AnyEvent, EventOf, RejectionReason } from "@parley/contracts";
import { instantsAfter, keepAll } from "../instants.js";

/**
 * The outbound state of one contact, built from what the router consumed about them (consent,
 * service windows) and what it decided (each request, and when marketing went out). Bounded by
 * `retain`. Pure.
 */

/**
 * The latest consent fact for one scope, and which event it came from. `utility` is the consent
 * service's utility purpose (ADR 0012), kept apart from `all` so that a utility opt-in never
 * reads as a marketing one.
 */
export interface ConsentFact {
  readonly scope: "all" | "marketing" | "utility";
  readonly granted: boolean;
  readonly eventId: string;
  readonly occurredAt: string;
  readonly source: string;
  /** A time-limited opt-in: no longer an opt-in from this instant. */
  readonly expiresAt?: string;
}

/** A customer-service window with one business number, as last reported. */
export interface WindowFact {
  readonly businessNumber: string;
  readonly expiresAt: string;
}

export type RequestOutcome = "dispatched" | "expired" | "deduplicated" | RejectionReason;

/** A decided request: what a redelivery or a repeated idempotency key is compared with. */
export interface RequestRecord {
  readonly requestId: string;
  /** requester + idempotency key; undefined for a repeat of a key (deduplicated or a conflict). */
  readonly key: string | undefined;
  readonly contentHash: string;
  readonly decidedAt: string;
  readonly outcome: RequestOutcome;
}

export interface OutboundState {
  readonly contactId: string;
  /** At most one per scope. */
  readonly consent: readonly ConsentFact[];
  readonly windows: readonly WindowFact[];
  /** When marketing messages were dispatched, oldest first (for the frequency cap). */
  readonly marketingSends: readonly string[];
  /** Decided requests, oldest first. */
  readonly requests: readonly RequestRecord[];
}

export const initialState = (contactId: string): OutboundState => ({
  contactId,
  consent: [],
  windows: [],
  marketingSends: [],
  requests: [],
});

/** Not published: the decider's own record that a request was decided. */
export interface RequestDecided {
  readonly type: "RequestDecided";
  readonly record: RequestRecord;
  /** A marketing message was dispatched (counts toward the frequency cap). */
  readonly marketingAt: string | undefined;
}

export type ConsentEvent = EventOf<"ConsentGranted"> | EventOf<"ConsentRevoked">;
export type WindowEvent =
  EventOf<"ConversationWindowOpened"> | EventOf<"ConversationWindowExtended">;
/** What the router publishes for a request: a dispatch command or a terminal outcome. */
export type OutboundOutput =
  | EventOf<"DispatchMessage">
  | EventOf<"SendRejected">
  | EventOf<"SendExpired">
  | EventOf<"SendDeduplicated">;

export type OutboundEvent = ConsentEvent | WindowEvent | OutboundOutput | RequestDecided;

const OUTPUTS = new Set(["DispatchMessage", "SendRejected", "SendExpired", "SendDeduplicated"]);
export const isOutput = (event: OutboundEvent): event is OutboundOutput => OUTPUTS.has(event.type);
/** The same test for any contract event (an outbox read back). */
export const isOutboundOutput = (event: AnyEvent): event is OutboundOutput =>
  OUTPUTS.has(event.type);

/** The later of two consent facts; on a tie the one consumed last wins. */
const isNewer = (candidate: ConsentFact, current: ConsentFact | undefined) =>
  current === undefined || Date.parse(candidate.occurredAt) >= Date.parse(current.occurredAt);

export function consentFactOf(event: ConsentEvent): ConsentFact {
  const expiresAt = event.type === "ConsentGranted" ? event.data.expiresAt : undefined;
  return {
    scope: event.data.purpose === "utility" ? "utility" : event.data.scope,
    granted: event.type === "ConsentGranted",
    eventId: event.eventId,
    occurredAt: event.occurredAt,
    source: event.data.source,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/** The state after `event`. */
export function evolve(state: OutboundState, event: OutboundEvent): OutboundState {
  switch (event.type) {
    case "ConsentGranted":
    case "ConsentRevoked": {
      const fact = consentFactOf(event);
      const current = state.consent.find((c) => c.scope === fact.scope);
      if (current?.eventId === fact.eventId || !isNewer(fact, current)) return state;
      return { ...state, consent: [...state.consent.filter((c) => c.scope !== fact.scope), fact] };
    }
    case "ConversationWindowOpened":
    case "ConversationWindowExtended": {
      const businessNumber = event.businessNumber;
      if (businessNumber === undefined) return state;
      const current = state.windows.find((w) => w.businessNumber === businessNumber);
      // Windows only ever lengthen: a late, older report never shortens one.
      if (
        current !== undefined &&
        Date.parse(current.expiresAt) >= Date.parse(event.data.expiresAt)
      ) {
        return state;
      }
      return {
        ...state,
        windows: [
          ...state.windows.filter((w) => w.businessNumber !== businessNumber),
          { businessNumber, expiresAt: event.data.expiresAt },
        ],
      };
    }
    case "RequestDecided":
      return {
        ...state,
        requests: [...state.requests, event.record],
        marketingSends:
          event.marketingAt === undefined
            ? state.marketingSends
            : [...state.marketingSends, event.marketingAt],
      };
    case "DispatchMessage":
    case "SendRejected":
    case "SendExpired":
    case "SendDeduplicated":
      return state;
  }
}

export interface OutboundRetention {
  /** Decided requests remembered per contact (oldest forgotten first). */
  readonly maxRequests: number;
  /** How long a request id and idempotency key are remembered. */
  readonly requestTtlMs: number;
  /** The frequency cap's period: older marketing sends no longer count. */
  readonly marketingPeriodMs: number;
}

/** Bounds the state: recent requests only, marketing sends inside the cap period, open windows. */
export function retain(state: OutboundState, now: Date, limits: OutboundRetention): OutboundState {
  const t = now.getTime();
  // Runs on every decision over up to maxRequests requests: no parse and no copy when nothing
  // goes (the store then sees the same list and writes only its new tail).
  const recent = instantsAfter(t - limits.requestTtlMs);
  const requests = keepAll(state.requests, (r) => recent(r.decidedAt));
  const inPeriod = instantsAfter(t - limits.marketingPeriodMs);
  return {
    ...state,
    // (0 keeps none, as slice(Infinity) did)
    requests:
      limits.maxRequests <= 0
        ? []
        : requests.length > limits.maxRequests
          ? requests.slice(-limits.maxRequests)
          : requests,
    marketingSends: keepAll(state.marketingSends, inPeriod),
    windows: keepAll(state.windows, (w) => Date.parse(w.expiresAt) > t),
  };
}
