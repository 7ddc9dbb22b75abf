export { envelopeFields, envelopeOf, isoDateTime, type Envelope } from "./envelope.js";
export {
  buildEvent,
  createEvent,
  eventDescriptions,
  eventNames,
  events,
  InvalidEventError,
  isEventName,
  isValidatedEvent,
  parseEvent,
  schemaVersions,
  type AnyEvent,
  type CreateEventMeta,
  type EventData,
  type EventName,
  type EventOf,
} from "./events.js";
export {
  businessKeyOf,
  contactKeyOf,
  createCatalog,
  DEFAULT_PARTITIONS,
  EVENT_MESSAGE_BYTES,
  RAW_MESSAGE_BYTES,
  topicIds,
  type Catalog,
  type CatalogOptions,
  type TopicId,
  type TopicEvent,
  type TopicEventName,
  type TopicKey,
  type TopicSpec,
} from "./catalog.js";
export { headerNames, type HeaderNames } from "./headers.js";
export { jsonSchemaOf, registeredSchema, type RegisteredSchema } from "./registered.js";
export {
  inboundMessageContent,
  type InboundMessageContent,
  type InboundMessageType,
} from "./events/inbound.js";
export {
  outboundContent,
  templateContent,
  type OutboundContent,
  type TemplateContent,
} from "./events/outbound.js";
export { messageStatus, type MessageStatus } from "./events/status.js";
export {
  rejectionReason,
  sendErrorClass,
  type RejectionReason,
  type SendErrorClass,
} from "./events/outcomes.js";
export {
  messageCategory,
  truncation,
  webhookError,
  type MessageCategory,
  type Truncation,
  type WebhookError,
} from "./events/shared.js";
export {
  backwardIncompatibilities,
  backwardTransitiveIncompatibilities,
  sameJson,
  type Incompatibility,
  type JsonSchema,
} from "./compat.js";
export { exampleData, exampleEvent } from "./examples.js";
export { asyncApiDocument, renderAsyncApi } from "./asyncapi.js";
export {
  contactIdForRequest,
  contactIdOf,
  InvalidContactIdError,
  parseContactId,
  sameContact,
  type ContactIdResult,
  type RecipientLike,
} from "./contact-id.js";
export {
  canonicalJson,
  checkSendRequest,
  sendRequestFields,
  sendRequestFingerprint,
  type CheckedSendRequest,
  type SendRequestData,
  type SendRequestProblem,
} from "./send-request.js";
export { sendApiSchemas } from "./openapi.js";
export { isJsonObject } from "./json.js";
export { nameBasedId } from "./name-id.js";
