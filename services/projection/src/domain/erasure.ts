import type { ContactState, ConsentFacts } from "./contact.js";
import type { ConversationState } from "./conversation.js";
import type { ContactDropped, Observed } from "./facts.js";
import type { MessageState } from "./message.js";
import type { RequestState } from "./request.js";
import type { ContentSummary } from "./summary.js";

/**
 * Erasure (right to be forgotten, ADR 0012): once a contact is erased, every read model that
 * names them keeps only what the law allows: that messages and requests existed, their types,
 * templates, statuses, pricing and counts, and that consent existed and was withdrawn (scope,
 * state, channel, source, dates), without identifying data. The person's id forms, profile
 * name, phone numbers, text bodies, captions, file names, evidence and caller metadata go.
 *
 * A read model knows a contact is erased from `ContactErased` itself (the contact's document,
 * and each document the projector finds naming the contact) or from an event flagged `erased`
 * (the projector looked the contact up: a replay meets the person's later events, or events of
 * other topics read after the erasure). Either marks the state `erased`, and every later apply
 * strips it again, so the result is the same in any order: strip(fold) of the events.
 */

/** What an erased document says in place of the person's id where a field must hold one. */
export const ERASED_ID = "erased";

/** Whether a command erases (or is about an erased contact). */
export const erasing = (command: { readonly type: string }): boolean =>
  command.type === "ContactDropped" ||
  (command.type === "Observed" &&
    ((command as Observed).erased === true ||
      (command as Observed).event.type === "ContactErased"));

/** Keeps the content's kind and template, never what a person wrote or named. */
function eraseContent(content: ContentSummary): ContentSummary {
  return {
    type: content.type,
    ...(content.template === undefined ? {} : { template: content.template }),
    ...(content.language === undefined ? {} : { language: content.language }),
  };
}

function eraseConsent(fact: ConsentFacts): ConsentFacts {
  const { evidence: _evidence, recordedBy: _recordedBy, ...kept } = fact;
  return kept;
}

/** The contact: a tombstone saying that consent existed and was withdrawn, and when. */
export function eraseContact(state: ContactState): ContactState {
  const { profileName: _profileName, country: _country, ...rest } = state;
  return {
    ...rest,
    erased: true,
    ids: [],
    consent: state.consent.map(eraseConsent),
    consentHistory: state.consentHistory.map(eraseConsent),
  };
}

/** A message: its direction, statuses, pricing, media state and window, nobody's words. */
export function eraseMessage(state: MessageState): MessageState {
  const { contactId: _contactId, ...rest } = state;
  let next: MessageState = { ...rest, erased: true };
  if (state.inbound !== undefined) {
    const { groupId: _groupId, ...inbound } = state.inbound;
    next = { ...next, inbound: { ...inbound, content: eraseContent(inbound.content) } };
  }
  if (state.link !== undefined) {
    const { contactId: _linkContact, ...link } = state.link;
    next = { ...next, link };
  }
  if (state.timeline.some((e) => e.participant !== undefined)) {
    next = {
      ...next,
      timeline: state.timeline.map(({ participant: _participant, ...entry }) => entry),
    };
  }
  return next;
}

/** An outcome's data without the person (their id, wa_id) or free texts that may quote them. */
function eraseOutcomeData(data: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = { ...data, contactId: ERASED_ID };
  delete kept["waId"];
  delete kept["detail"];
  const error = kept["error"];
  if (typeof error === "object" && error !== null) {
    const e = { ...(error as Record<string, unknown>) };
    delete e["details"];
    kept["error"] = e;
  }
  return kept;
}

/** A request: its category, template, sender, dispatches and outcomes, no recipient or content. */
export function eraseRequest(state: RequestState): RequestState {
  const r = state.request;
  let next: RequestState = {
    ...state,
    erased: true,
    dispatches: state.dispatches.map((d) => ({ ...d, to: ERASED_ID })),
    outcomes: state.outcomes.map(
      (o) =>
        ({
          ...o,
          data: eraseOutcomeData(o.data as unknown as Record<string, unknown>),
        }) as unknown as typeof o,
    ),
  };
  if (r !== undefined) {
    const { metadata: _metadata, ...request } = r;
    next = {
      ...next,
      request: {
        ...request,
        contactId: ERASED_ID,
        recipient: {},
        content: eraseContent(r.content),
      },
    };
  }
  return next;
}

/** A conversation: its windows and response marks (wamids), not whom it was with. */
export function eraseConversation(state: ConversationState): ConversationState {
  return { ...state, erased: true, contactId: ERASED_ID };
}

/** Whether a command is the projector's drop (it carries no event to apply). */
export const isDrop = (command: { readonly type: string }): command is ContactDropped =>
  command.type === "ContactDropped";

/**
 * Applies `apply`, then strips the result when the command erases or the state already is
 * erased; the same object when nothing changed (so a repeated command decides nothing).
 */
export function withErasure<S extends { readonly erased?: boolean }>(
  state: S,
  command: { readonly type: string },
  next: S,
  erase: (state: S) => S,
): S {
  if (!erasing(command) && state.erased !== true && next.erased !== true) return next;
  const stripped = erase(next);
  return JSON.stringify(stripped) === JSON.stringify(state) ? state : stripped;
}
