export { createParleyClient, type ParleyClientOptions } from "./create-client.js";
export type {
  Delivery,
  EventHandler,
  ParleyClient,
  SubscribeOptions,
  Subscription,
  TrackOutcomesOptions,
} from "./client.js";
export { finalOutcome, isSettled, type FinalOutcome } from "./outcome.js";
export {
  createOutcomeTracker,
  OutcomeTimeoutError,
  type AwaitOptions,
  type OutcomeTracker,
} from "./tracker.js";
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
