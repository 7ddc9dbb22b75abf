import type { Clock } from "./clock.js";
import type { WebhookGet } from "./verification.js";
import type { WebhookDeliverer, WebhookOptions } from "./webhooks.js";

/**
 * How the pair rate limit (one business number to one user) is enforced (reference §3.2):
 * "borrow" is Meta's documented rule (a burst of up to `pairBurst` within `pairBurstWindowMs`
 * borrows against future quota: nothing more to that user until the burst would have taken at
 * one per `pairRefillMs`); "bucket" is a token bucket of `pairBurst` refilled one per
 * `pairRefillMs`, more lenient right after a burst.
 */
export type PairPacingRule = "borrow" | "bucket";

export interface AccessTokenConfig {
  readonly token: string;
  /** Epoch ms; after it the token answers 190 (subcode 463). */
  readonly expiresAt?: number;
  /** WABA or phone number ids this token may use; all when omitted (an admin system user). */
  readonly assets?: readonly string[];
  /** Permissions `debug_token` reports (default: whatsapp_business_management and _messaging). */
  readonly scopes?: readonly string[];
  /** The token's kind as `debug_token` reports it (default SYSTEM_USER). */
  readonly type?: "SYSTEM_USER" | "USER" | "PAGE" | "APP";
}

export interface PhoneNumberConfig {
  readonly id: string;
  /** Digits with country code, as in webhooks' metadata.display_phone_number. */
  readonly displayPhoneNumber: string;
  readonly verifiedName?: string;
  /** Starts upgraded (1,000 msg/s, level HIGH). */
  readonly highThroughput?: boolean;
  /**
   * This number's own throughput in msg/s, overriding the simulator-wide default (e.g. 1000 for
   * an upgraded number, 20 for a coexistence number). Level HIGH when at least the upgraded rate.
   */
  readonly throughputMps?: number;
  /** Test number mode: only these recipients (digits as sent, up to 5) may be messaged, others get 131030. */
  readonly allowList?: readonly string[];
}

export interface BusinessConfig {
  readonly wabaId: string;
  readonly phoneNumbers: readonly PhoneNumberConfig[];
}

export type Range = readonly [min: number, max: number];

/** How simulated users' phones react to business messages. All probabilities are 0..1. */
export interface StatusProfile {
  readonly sentDelayMs: Range;
  readonly deliveredDelayMs: Range;
  readonly readDelayMs: Range;
  readonly readProbability: number;
  /** `delivered` omitted when delivery and read happen together (only when the message is read). */
  readonly skipDeliveredProbability: number;
  /** A status webhook is posted twice. */
  readonly duplicateProbability: number;
  /** A later status's webhook is posted before an earlier one's. */
  readonly outOfOrderProbability: number;
}

export type LatencyDistribution =
  | { readonly kind: "none" }
  | { readonly kind: "fixed"; readonly ms: number }
  | { readonly kind: "uniform"; readonly minMs: number; readonly maxMs: number }
  | { readonly kind: "exponential"; readonly meanMs: number; readonly maxMs: number }
  | {
      readonly kind: "normal";
      readonly meanMs: number;
      readonly stdDevMs: number;
      readonly maxMs: number;
    };

/** A fault applied to one matching request. */
export type ScriptedFault =
  | { readonly kind: "error"; readonly code: number; readonly http?: number }
  /** An answer that is not a Graph error (e.g. a proxy's 502 page). */
  | { readonly kind: "raw"; readonly status: number; readonly body: string }
  /** The request is never answered; nothing happened. */
  | { readonly kind: "timeout" }
  /** The send is accepted (webhooks follow) but the answer never arrives: the "in doubt" case. */
  | { readonly kind: "timeout-after-accept" }
  /**
   * The request is handled at once (a send is accepted, webhooks follow) but the answer is held
   * back for `ms`: a call in flight, for crash tests.
   */
  | { readonly kind: "delay"; readonly ms: number }
  /**
   * The send is accepted (200 with its wamid) and then fails by webhook: a `failed` status with
   * `code` (e.g. 131047, 132015, 131049, 131026) after `afterMs` (default: the sent delay).
   */
  /**
   * A media download (endpoint "download") answers 200 with the full Content-Length, sends
   * `afterBytes` of the body and closes the connection; with `expireUrl` its URL expires at that
   * moment too (the 5-minute URL ran out mid-download), so the client must ask Graph again.
   */
  | { readonly kind: "cut"; readonly afterBytes: number; readonly expireUrl?: boolean }
  | {
      readonly kind: "fail-async";
      readonly code: number;
      readonly afterMs?: number;
      readonly details?: string;
    };

export interface FaultOptions {
  /** Share of Graph requests answered 5xx (code 131000, 131016 or 2, chosen by the seed). */
  readonly serverErrorRate: number;
  /** Share of requests that hang without an answer. */
  readonly timeoutRate: number;
  /** Share of sends accepted and then left unanswered. */
  readonly timeoutAfterAcceptRate: number;
  /** How long a hung request is held before the socket is closed. */
  readonly hangMs: number;
  readonly latency: LatencyDistribution;
  /**
   * How long a Graph request waits at the front before it is handled, and so before it is
   * counted against throughput (a busy network or front end): requests sent evenly can be
   * counted out of order and bunched. `latency` is the wait after handling, before the answer.
   */
  readonly queueing: LatencyDistribution;
  /** Share of webhook POSTs silently never sent. */
  readonly webhookDropRate: number;
}

export const defaultFaults: FaultOptions = {
  serverErrorRate: 0,
  timeoutRate: 0,
  timeoutAfterAcceptRate: 0,
  hangMs: 30_000,
  latency: { kind: "none" },
  queueing: { kind: "none" },
  webhookDropRate: 0,
};

export const defaultStatusProfile: StatusProfile = {
  sentDelayMs: [200, 2_000],
  deliveredDelayMs: [300, 3_000],
  readDelayMs: [1_000, 20_000],
  readProbability: 0.6,
  skipDeliveredProbability: 0.05,
  duplicateProbability: 0,
  outOfOrderProbability: 0,
};

export interface SimulatorOptions {
  /** Every random choice (ids, delays, faults) follows from it. */
  readonly seed?: string | number;
  readonly clock?: Clock;
  readonly appSecret?: string;
  /** The app's id: `debug_token` reports it and takes `<appId>|<appSecret>` as an app token. */
  readonly appId?: string;
  readonly accessTokens?: readonly AccessTokenConfig[];
  readonly businesses?: readonly BusinessConfig[];
  /** The only places webhooks are posted to. */
  readonly webhookUrls?: readonly string[];
  readonly webhooks?: Partial<WebhookOptions>;
  readonly statuses?: Partial<StatusProfile>;
  readonly faults?: Partial<FaultOptions>;
  /** Replace HTTP delivery of webhooks (tests capture them in memory). */
  readonly deliver?: WebhookDeliverer;
  /** Replace the HTTP GET of the webhook verification handshake (tests answer in memory). */
  readonly webhookGet?: WebhookGet;
  readonly throughputMps?: number;
  readonly upgradedThroughputMps?: number;
  /** Meta's rule by default ("borrow"); "bucket" for the older, more lenient model. */
  readonly pairRule?: PairPacingRule;
  readonly pairBurst?: number;
  readonly pairRefillMs?: number;
  /** How long a burst to one user may last from its first message (Meta: 6 s). */
  readonly pairBurstWindowMs?: number;
  readonly serviceWindowMs?: number;
  /** Recipients (wa_id digits) that are not on WhatsApp: sends fail async with 131026. */
  readonly nonWhatsAppNumbers?: readonly string[];
  /** Brazilian numbers registered before the mobile 9 (Meta answers the 12-digit wa_id). */
  readonly brazilLegacyAccounts?: boolean;
  /** Template review: PENDING for this long, then APPROVED (or the given outcome). */
  readonly templateReviewMs?: number;
  /**
   * Messaging limit (reference §3.3): unique users the portfolio (every number of this simulator)
   * may reach with business-initiated sends (templates outside the user's service window) in a
   * moving 24 h: 250, 2000, 10000, 100000 or "unlimited" (the default). A template to one more
   * user is accepted and then fails by webhook with `messagingLimitErrorCode`.
   */
  readonly messagingLimit?: number | "unlimited";
  /** Meta documents no code for the messaging limit; 131049 by default (retry much later). */
  readonly messagingLimitErrorCode?: number;
  /** The per-user marketing limit (reference §3.3), answered by webhook with 131049. */
  readonly marketing?: {
    /** Marketing templates one user may get outside a service window per moving 24 h, across businesses. */
    readonly perUserPer24h?: number;
    /** Since 2025-04-01 marketing templates to US (+1) numbers are not delivered (131049). */
    readonly pauseUsRecipients?: boolean;
  };
  /** Template creations per WABA per moving hour before 80007 (Meta: 100). */
  readonly templateCreationsPerHour?: number;
  /** Management calls (templates, phone numbers) per WABA per hour before 80007. */
  readonly managementCallsPerHour?: number;
  /** Outbound messages kept for inspection, status updates, reactions and read receipts. */
  readonly retainMessages?: number;
  /** Base URL that media download links point at (the server sets it when it listens). */
  readonly publicBaseUrl?: string;
  readonly defaultGraphVersion?: string;
}

export const DEFAULT_WABA_ID = "102290129340398";
export const DEFAULT_PHONE_NUMBER_ID = "106540352242922";
export const DEFAULT_DISPLAY_NUMBER = "15550783881";
export const DEFAULT_TOKEN = "sim-access-token";
export const DEFAULT_APP_SECRET = "sim-app-secret";
export const DEFAULT_APP_ID = "1000000000000001";
