import type { Decider } from "@parley/decider";
import { appliedEvent, stateAfter } from "./applied.js";
import { eraseConversation, isDrop, withErasure } from "./erasure.js";
import type { Applied, ContactDropped, Observed, WindowObserved, WindowView } from "./facts.js";
import { canonicalTime, compareStamps, insertBounded, latest, type Stamp } from "./order.js";

/** A window as the conversation keeps it (the first response is derived: see windowsOf). */
export interface WindowFacts extends Stamp {
  readonly openedBy: string;
  readonly expiresAt: string;
  readonly freeEntryPoint: boolean;
  /** The inbound message that last extended it, and when. */
  readonly lastExtendedBy?: string;
}

/** An outbound message Meta accepted in this conversation, by its acceptance time. */
export interface OutboundMark extends Stamp {
  readonly wamid: string;
}

export interface ConversationState {
  /** `<contactId>|<businessNumber>`. */
  readonly key: string;
  readonly contactId: string;
  readonly businessNumber: string;
  /** The service-window history: the last windows by opening time. */
  readonly windows: readonly WindowFacts[];
  /** The business's messages, the last by acceptance time (response times are derived from them). */
  readonly outbound: readonly OutboundMark[];
  readonly lastInbound?: Stamp & { readonly wamid: string };
  readonly lastOutbound?: Stamp & { readonly wamid: string };
  /** Its contact was erased: the windows and marks stay, not whom they were with. */
  readonly erased?: boolean;
}

export type ConversationCommand = Observed | ContactDropped;
export type ConversationOutput = WindowObserved;
export type ConversationEvent = Applied<ConversationCommand> | ConversationOutput;

export const CONVERSATION_LIMITS = { windows: 200, outbound: 500 } as const;

/** The key of a contact's conversation with one business number (each part URI-encoded). */
export const conversationKey = (contactId: string, businessNumber: string): string =>
  `${encodeURIComponent(contactId)}|${encodeURIComponent(businessNumber)}`;

export function parseConversationKey(
  key: string,
): { contactId: string; businessNumber: string } | undefined {
  const parts = key.split("|");
  if (parts.length !== 2) return undefined;
  try {
    const [contactId = "", businessNumber = ""] = parts.map((p) => decodeURIComponent(p));
    return contactId === "" || businessNumber === "" ? undefined : { contactId, businessNumber };
  } catch {
    return undefined;
  }
}

const stampOf = (event: { readonly occurredAt: string; readonly eventId: string }): Stamp => ({
  at: canonicalTime(event.occurredAt),
  eventId: event.eventId,
});

/**
 * Each window with its first response: the first message the business had accepted at or after
 * the window opened and before it closed (and before the next window opened). One pass over
 * the two sorted lists.
 */
export function windowsOf(state: Pick<ConversationState, "windows" | "outbound">): WindowView[] {
  const views: WindowView[] = [];
  let o = 0;
  state.windows.forEach((w, i) => {
    const next = state.windows[i + 1];
    const end = next !== undefined && next.at < w.expiresAt ? next.at : w.expiresAt;
    while (o < state.outbound.length && (state.outbound[o]?.at ?? "") < w.at) o++;
    const first = state.outbound[o];
    views.push({
      openedBy: w.openedBy,
      openedAt: w.at,
      expiresAt: w.expiresAt,
      freeEntryPoint: w.freeEntryPoint,
      ...(w.lastExtendedBy === undefined ? {} : { lastExtendedBy: w.lastExtendedBy }),
      ...(first !== undefined && first.at < end ? { firstResponseAt: first.at } : {}),
    });
  });
  return views;
}

/** The conversation's state after one observed event; the same object when unchanged. */
export function applyToConversation(
  state: ConversationState,
  command: ConversationCommand,
): ConversationState {
  const next = isDrop(command) ? state : applyFacts(state, command);
  return withErasure(state, command, next, eraseConversation);
}

function applyFacts(state: ConversationState, { event }: Observed): ConversationState {
  switch (event.type) {
    case "ConversationWindowOpened": {
      const windows = insertBounded(
        state.windows,
        {
          ...stampOf(event),
          openedBy: event.data.openedBy,
          expiresAt: canonicalTime(event.data.expiresAt),
          freeEntryPoint: event.data.freeEntryPoint,
        },
        { compare: compareStamps, idOf: (w) => w.openedBy, max: CONVERSATION_LIMITS.windows },
      );
      return windows === state.windows ? state : { ...state, windows };
    }
    case "ConversationWindowExtended": {
      // The windows topic keeps a contact's window events in order: an extension follows the
      // opening it extends, in the log and therefore in any replay.
      const at = canonicalTime(event.occurredAt);
      const expiresAt = canonicalTime(event.data.expiresAt);
      let index = -1;
      state.windows.forEach((w, i) => {
        if (w.at <= at) index = i;
      });
      const w = state.windows[index];
      if (w === undefined) return state;
      if (expiresAt <= w.expiresAt) return state;
      const windows = state.windows.map((x, i) =>
        i === index ? { ...x, expiresAt, lastExtendedBy: event.data.extendedBy } : x,
      );
      return { ...state, windows };
    }
    case "InboundMessageReceived": {
      const lastInbound = latest(state.lastInbound, { ...stampOf(event), wamid: event.data.wamid });
      return lastInbound === state.lastInbound ? state : { ...state, lastInbound };
    }
    case "SendAccepted":
    case "SendReconciled": {
      if (event.type === "SendReconciled" && event.data.result !== "sent") return state;
      const mark = { ...stampOf(event), wamid: event.data.wamid };
      const outbound = insertBounded(state.outbound, mark, {
        compare: compareStamps,
        idOf: (m) => m.wamid,
        max: CONVERSATION_LIMITS.outbound,
      });
      const lastOutbound = latest(state.lastOutbound, mark);
      if (outbound === state.outbound && lastOutbound === state.lastOutbound) return state;
      return { ...state, outbound, lastOutbound };
    }
    default:
      return state;
  }
}

/**
 * Why: the service-window history per contact and business number (opened by which message,
 * closing when, free entry points), the last inbound and outbound messages and how soon the
 * business answered each window. Windows come in order from their own topic; acceptances come
 * from another topic in any order, so first responses are derived from the kept sets, and each
 * window's derivation is handed to the message that opened it whenever it changes.
 */
export const conversationDecider: Decider<
  ConversationState,
  ConversationCommand,
  ConversationEvent,
  void,
  ConversationOutput
> = {
  initialState: (key) => {
    const parsed = parseConversationKey(key);
    return {
      key,
      contactId: parsed?.contactId ?? key,
      businessNumber: parsed?.businessNumber ?? "",
      windows: [],
      outbound: [],
    };
  },
  decide(command, state) {
    const next = applyToConversation(state, command);
    if (next === state) return [];
    const before = new Map(windowsOf(state).map((w) => [w.openedBy, JSON.stringify(w)]));
    const n = next.windows.length + next.outbound.length;
    const events: ConversationEvent[] = [appliedEvent(command, state, next)];
    for (const window of windowsOf(next)) {
      if (before.get(window.openedBy) === JSON.stringify(window)) continue;
      events.push({
        type: "WindowObserved",
        eventId: `conversation:${state.key}:window:${window.openedBy}:${String(n)}`,
        wamid: window.openedBy,
        businessNumber: state.businessNumber,
        window,
      });
    }
    return events;
  },
  evolve: (state, event) =>
    event.type === "Applied"
      ? stateAfter(state, event, () => applyToConversation(state, event.command))
      : state,
  isPublished: (event): event is ConversationOutput => event.type !== "Applied",
};
