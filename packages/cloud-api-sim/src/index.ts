export {
  createSimulator,
  type Simulator,
  type SimRequest,
  type SimResponse,
  type SimUser,
  type SentMessage,
  type Rejection,
  type InboundContent,
  type NumberStats,
  type StatusEvent,
  type PairPacing,
  type WebhookVerification,
} from "./simulator.js";
export { systemClock, createManualClock, type Clock, type ManualClock } from "./clock.js";
export { createRng, type Rng } from "./rng.js";
export {
  META_RETRY_DELAYS_MS,
  buildPayload,
  type WebhookDeliverer,
  type WebhookOptions,
  type DeliveryRecord,
  type WebhookUpdate,
} from "./webhooks.js";
export {
  DEFAULT_APP_ID,
  DEFAULT_APP_SECRET,
  DEFAULT_DISPLAY_NUMBER,
  DEFAULT_PHONE_NUMBER_ID,
  DEFAULT_TOKEN,
  DEFAULT_WABA_ID,
  type SimulatorOptions,
  type AccessTokenConfig,
  type BusinessConfig,
  type PhoneNumberConfig,
  type StatusProfile,
  type FaultOptions,
  type ScriptedFault,
  type LatencyDistribution,
  type PairPacingRule,
} from "./options.js";
export { serveSimulator, type SimulatorServer, type ServeOptions } from "./server.js";
export { createInProcessTransport } from "./transport.js";
export type { WebhookGet } from "./verification.js";
