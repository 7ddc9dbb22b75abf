// The simulator's public types: what a test hands it and reads back.
import type {
  DeliveryStatus,
  InboundMessage,
  OutboundMessage,
  TemplateStatus,
} from "@parley/cloud-api";
import type { Clock } from "./clock.js";
import type {
  AccessTokenConfig,
  FaultOptions,
  PairPacingRule,
  ScriptedFault,
  StatusProfile,
} from "./options.js";
import type { SimTemplate } from "./templates.js";
import type { DeliveryRecord } from "./webhooks.js";

export interface SimRequest {
  readonly method: string;
  /** Path without query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

export type SimResponse =
  | {
      readonly kind: "answer";
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Buffer | string;
      /** Injected latency before answering. */
      readonly delayMs: number;
      /** The connection is closed after this many body bytes (a download cut mid-way). */
      readonly cutAfterBytes?: number;
    }
  | { readonly kind: "hang"; readonly hangMs: number };

export interface SimUser {
  readonly waId: string;
  /** Business-scoped user id (BSUID), e.g. `US.13491208655302741918`; sends may use it as `recipient`. */
  readonly userId: string;
  name: string;
  readReceipts: boolean;
}

export interface StatusEvent {
  readonly status: DeliveryStatus;
  readonly at: number;
}

/** An accepted outbound message, as the simulated user's phone saw it. */
export interface SentMessage {
  readonly wamid: string;
  readonly phoneNumberId: string;
  readonly input: string;
  readonly waId: string;
  readonly type: string;
  readonly message: OutboundMessage;
  readonly acceptedAt: number;
  readonly callbackData: string | undefined;
  /** The BSUID when the send addressed the user by `recipient` instead of `to`. */
  readonly recipientUserId?: string;
  /** Status events that have happened by now, in event-time order (webhook arrival order may differ). */
  readonly statuses: readonly StatusEvent[];
  /** The error code once the message has failed. */
  readonly failure: number | undefined;
}

/** Sends to one recipient from one business number, for checking a sender's pair pacing. */
export interface PairPacing {
  readonly phoneNumberId: string;
  readonly waId: string;
  /** Acceptance times (epoch ms) of the retained sends, in order. */
  readonly acceptedAt: readonly number[];
  /** Times of sends refused with 131056 (pair rate limit hit). */
  readonly rejectedAt: readonly number[];
  /**
   * Accepted sends that the pacing rule checked against (the simulator's own, or the `rule`,
   * `burst` and `refillMs` asked for) would have refused: empty with the simulator's own rule,
   * which it enforces; useful with a stricter one.
   */
  readonly overLimitAt: readonly number[];
  /** No 131056 refusal and nothing over the limit. */
  readonly ok: boolean;
}

export interface Rejection {
  readonly at: number;
  readonly phoneNumberId: string;
  readonly code: number;
  /** Masked recipient, when known. */
  readonly to: string | undefined;
}

export type InboundContent =
  | { readonly type: "text"; readonly body: string }
  | { readonly type: "stop" }
  | {
      readonly type: "image" | "video" | "audio" | "document" | "sticker";
      readonly mimeType: string;
      readonly data?: Uint8Array;
      readonly caption?: string;
      readonly filename?: string;
      readonly voice?: boolean;
    }
  | {
      readonly type: "location";
      readonly latitude: number;
      readonly longitude: number;
      readonly name?: string;
      readonly address?: string;
    }
  | { readonly type: "contacts"; readonly contacts: readonly unknown[] }
  | { readonly type: "button"; readonly text: string; readonly payload: string }
  | { readonly type: "button_reply"; readonly id: string; readonly title: string }
  | {
      readonly type: "list_reply";
      readonly id: string;
      readonly title: string;
      readonly description?: string;
    }
  /**
   * A flow completed on the user's phone (`nfm_reply`): `response` is what the flow's last
   * screen submitted; `flowToken` is the token of the flow message the user answered.
   */
  | {
      readonly type: "flow_reply";
      readonly response: Readonly<Record<string, unknown>>;
      readonly flowToken?: string;
      readonly body?: string;
    }
  | { readonly type: "reaction"; readonly messageId: string; readonly emoji: string }
  | { readonly type: "unsupported" };

export interface NumberStats {
  readonly phoneNumberId: string;
  readonly accepted: number;
  readonly rejectedByCode: Readonly<Record<string, number>>;
  /** Most sends accepted in any sliding 1,000 ms. */
  readonly maxAcceptedInAnySecond: number;
  readonly throughputMps: number;
}

/** Meta's webhook verification handshake with one subscriber (reference §4.1). */
export interface WebhookVerification {
  readonly url: string;
  /** Whether the subscriber answered 200 with exactly the challenge: only then is the URL kept. */
  readonly verified: boolean;
  /** HTTP status of the subscriber's answer, or "network-error". */
  readonly status: number | "network-error";
  readonly challenge: string;
  /** The subscriber's answer body (at most 200 characters). */
  readonly answer: string;
  readonly at: number;
}

export interface Simulator {
  /** Answers one Graph request (the HTTP server and the in-process transport both call this). */
  handle(req: SimRequest): SimResponse;
  readonly clock: Clock;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly defaultPhoneNumberId: string;
  readonly defaultWabaId: string;
  setPublicBaseUrl(url: string): void;
  setWebhookUrls(urls: readonly string[]): void;
  /**
   * Registers a callback URL the way Meta's App Dashboard does: Meta first calls
   * `GET url?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…` and keeps the URL only if
   * the subscriber answers 200 with the challenge. Webhooks then go to the verified URLs.
   */
  registerWebhook(url: string, verifyToken: string): Promise<WebhookVerification>;
  /** The handshake alone: the URL is not added (recorded in `webhookVerifications()`). */
  verifyWebhook(url: string, verifyToken: string): Promise<WebhookVerification>;
  /** Every verification handshake so far, oldest first. */
  webhookVerifications(): readonly WebhookVerification[];
  /**
   * Accepts a system-user token from now on (or replaces its expiry and assets), as when an admin
   * issues it or restores its permissions in Business Manager.
   */
  grantAccessToken(token: AccessTokenConfig): void;
  /** Refuses a token from now on (190), as when it is revoked. */
  revokeAccessToken(token: string): void;

  /** Creates (or updates) a simulated WhatsApp user. */
  addUser(user: {
    readonly waId: string;
    /** The user's BSUID; derived from the seed and number when omitted (only at creation). */
    readonly userId?: string;
    readonly name?: string;
    readonly readReceipts?: boolean;
  }): SimUser;
  /** A simulated user sends a message to a business number: opens the service window, posts the webhook. */
  userSends(
    waId: string,
    content: InboundContent,
    options?: { readonly phoneNumberId?: string; readonly replyTo?: string },
  ): { readonly wamid: string; readonly message: InboundMessage };

  addTemplate(t: {
    readonly wabaId?: string;
    readonly name: string;
    readonly language: string;
    readonly category?: SimTemplate["category"];
    readonly status?: TemplateStatus;
    readonly parameterFormat?: SimTemplate["parameterFormat"];
    readonly body: string;
    readonly header?: string;
    readonly footer?: string;
    readonly pacing?: SimTemplate["pacing"];
  }): SimTemplate;
  setTemplateStatus(name: string, language: string, status: TemplateStatus, wabaId?: string): void;
  /** Starts the 1,000 msg/s upgrade: 131057 for `durationMs`, then HIGH plus a quality webhook. */
  upgradeThroughput(phoneNumberId: string, durationMs?: number): void;

  /** Changes how simulated phones answer from now on (delays, read rate, duplicates, reordering). */
  setStatusProfile(p: Partial<StatusProfile>): void;
  setFaults(f: Partial<FaultOptions>): void;
  /**
   * How long the transport holds the next Graph request before `handle` (the `queueing`
   * fault; 0 without it).
   */
  queueDelay(): number;
  /**
   * Queues faults applied, in order, to the next matching requests (all Graph requests by
   * default; `to`: only sends to that recipient, as the send's `to` digits).
   */
  scriptFaults(
    faults: readonly ScriptedFault[],
    match?: {
      readonly endpoint?: "messages" | "media" | "templates" | "download" | "any";
      readonly to?: string;
    },
  ): void;
  clearFaults(): void;
  /** Media id `mediaId` expires now: Graph answers 100/33 for it, as for a 7-day-old inbound id. */
  expireMedia(mediaId: string): void;
  /**
   * The stored file of `mediaId` is altered (one byte flipped, or replaced by `data`) while its
   * sha256 still announces the original: a download must fail its hash check.
   */
  tamperMedia(mediaId: string, data?: Buffer): void;
  /** How often a media id's URL was looked up and its bytes served (0s for an unknown id). */
  mediaStats(mediaId: string): { readonly lookups: number; readonly downloads: number };

  messages(filter?: {
    readonly to?: string;
    readonly phoneNumberId?: string;
  }): readonly SentMessage[];
  /** What one user received, in acceptance order, with status event times. */
  received(waId: string): readonly SentMessage[];
  rejections(): readonly Rejection[];
  /**
   * Per (business number, recipient): acceptance times of the retained sends and the times of
   * 131056 refusals, so a test can check a sender's pair pacing. `rule`, `burst` and `refillMs`
   * (default: the simulator's own) set the pacing `overLimitAt` is checked against. Only pairs
   * with at least one send or refusal are listed.
   */
  pairPacing(filter?: {
    readonly to?: string;
    readonly phoneNumberId?: string;
    readonly rule?: PairPacingRule;
    readonly burst?: number;
    readonly refillMs?: number;
  }): readonly PairPacing[];
  /** Starts the per-number counters of `stats()` (accepted, rejections, max in a second) afresh. */
  resetStats(): void;
  webhookDeliveries(): readonly DeliveryRecord[];
  stats(): readonly NumberStats[];
  markedRead(): readonly {
    readonly wamid: string;
    readonly at: number;
    readonly typing: boolean;
  }[];
  stop(): Promise<void>;
}
