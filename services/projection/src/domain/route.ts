import type { Keyed } from "@parley/decider";
import { conversationKey } from "./conversation.js";
import { isOutcome, type Observed } from "./facts.js";
import type { MessageCommand } from "./message.js";
import { templateKey } from "./template.js";

/** The read models an observed event changes, each under its own key. */
export interface Targets {
  readonly requests: readonly Keyed<Observed>[];
  readonly messages: readonly Keyed<MessageCommand>[];
  readonly contacts: readonly Keyed<Observed>[];
  readonly conversations: readonly Keyed<Observed>[];
  readonly templates: readonly Keyed<Observed>[];
}

export const READ_MODELS = [
  "requests",
  "messages",
  "contacts",
  "conversations",
  "templates",
] as const;
export type ReadModelName = (typeof READ_MODELS)[number];

/**
 * Which read models an event changes: requests by request id, messages by wamid, contacts by
 * contact id, conversations by contact and business number, templates by WABA and template id.
 * Events no read model keeps (raw webhooks, number and account updates) change none.
 */
export function route(observed: Observed): Targets {
  const requests: Keyed<Observed>[] = [];
  const messages: Keyed<MessageCommand>[] = [];
  const contacts: Keyed<Observed>[] = [];
  const conversations: Keyed<Observed>[] = [];
  const templates: Keyed<Observed>[] = [];
  const { event } = observed;
  const to = (list: Keyed<Observed>[], key: string) => list.push({ key, command: observed });
  const conversation = (contactId: string) => {
    if (event.businessNumber !== undefined)
      to(conversations, conversationKey(contactId, event.businessNumber));
  };
  switch (event.type) {
    case "SendRequested":
      to(requests, event.correlationId);
      to(contacts, event.data.contactId);
      break;
    case "DispatchMessage":
      to(requests, event.data.requestId);
      break;
    case "InboundMessageReceived":
      messages.push({ key: event.data.wamid, command: observed });
      to(contacts, event.data.contactId);
      conversation(event.data.contactId);
      break;
    case "StatusUpdated":
      messages.push({ key: event.data.wamid, command: observed });
      to(contacts, event.data.contactId);
      break;
    case "ConsentGranted":
    case "ConsentRevoked":
    case "UserPreferencesUpdated":
    case "ContactErased":
      to(contacts, event.data.contactId);
      break;
    case "ConversationWindowOpened":
    case "ConversationWindowExtended":
      conversation(event.data.contactId);
      break;
    case "MediaStored":
    case "MediaFailed":
    case "MediaExpired":
    case "MediaDeleted":
      if (event.data.wamid !== undefined)
        messages.push({ key: event.data.wamid, command: observed });
      break;
    case "TemplateStatusUpdated":
    case "TemplateCategoryUpdated":
    case "TemplateQualityUpdated":
      to(templates, templateKey(event.data.wabaId, event.data.templateId));
      break;
    default:
      if (isOutcome(event)) {
        to(requests, event.data.requestId);
        if (event.type === "SendAccepted") to(contacts, event.data.contactId);
        if (event.type === "SendAccepted" || event.type === "SendReconciled")
          conversation(event.data.contactId);
      }
  }
  return { requests, messages, contacts, conversations, templates };
}

/** The contact an event is about, if it names one (its country is looked up once, from it). */
export function contactOf(observed: Pick<Observed, "event">): string | undefined {
  const data: unknown = observed.event.data;
  if (typeof data === "object" && data !== null && "contactId" in data) {
    const id = (data as { contactId?: unknown }).contactId;
    return typeof id === "string" ? id : undefined;
  }
  return undefined;
}
