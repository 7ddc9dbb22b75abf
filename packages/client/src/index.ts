export { createParleyClient, type ParleyClientOptions } from "./create-client.js";
export type {
  Delivery,
  EventHandler,
  ParleyClient,
  SubscribeOptions,
  Subscription,
} from "./client.js";
export type { SendRequest, SendRequestData } from "./request.js";
export {
  sendOutcomeNames,
  type SendOutcome,
  type SendOutcomeName,
  type StatusEvent,
} from "./events.js";
export {
  ClientClosedError,
  InvalidClientOptionsError,
  InvalidSendRequestError,
  MissingIdempotencyKeyError,
  ParleyClientError,
  SendNotAcknowledgedError,
  SubscribeError,
  type SendRequestIssue,
} from "./errors.js";
