// The simulator's internal state, shared by the modules that handle each concern.
import type { CountryCode, DeliveryStatus } from "@parley/cloud-api";
import type { Clock } from "./clock.js";
import type { AccessTokenConfig, FaultOptions, ScriptedFault, StatusProfile } from "./options.js";
import type { PairRule, PairState } from "./pair-pacing.js";
import type { Rng } from "./rng.js";
import type { SimTemplate } from "./templates.js";
import type { Rejection, SimUser, WebhookVerification } from "./types.js";
import type { WebhookEmitter } from "./webhooks.js";

export const DAY = 86_400_000;

/**
 * Internal record of an accepted send, kept compact (up to `retainMessages` of them live): the
 * request body as received, parsed again only when inspected, and the planned status times as
 * numbers (NaN when the status will not happen). Statuses are revealed as the clock passes them.
 */
export class OutRecord {
  sentAt = NaN;
  deliveredAt = NaN;
  readAt = NaN;
  failedAt = NaN;
  failureCode: number | undefined = undefined;
  /** Set for sends addressed by BSUID (`recipient`). */
  userId: string | undefined = undefined;
  /** `name:language` of the template sent, for a template send. */
  template: string | undefined = undefined;
  constructor(
    readonly wamid: string,
    readonly phoneNumberId: string,
    readonly input: string,
    readonly waId: string,
    readonly type: string,
    /** The request body as received (JSON text). */
    readonly raw: string,
    readonly acceptedAt: number,
    readonly callbackData: string | undefined,
  ) {}

  plan(status: DeliveryStatus, at: number): void {
    if (status === "sent") this.sentAt = at;
    else if (status === "delivered") this.deliveredAt = at;
    else if (status === "read") this.readAt = at;
    else if (status === "failed") this.failedAt = at;
  }
}

export interface NumberState {
  readonly id: string;
  readonly wabaId: string;
  readonly display: string;
  readonly country: CountryCode | undefined;
  readonly countryCallingCode: string;
  readonly verifiedName: string;
  mps: number;
  level: "STANDARD" | "HIGH";
  /** Times of the last `mps` messages (ring buffer): a sliding one-second window, exact at any rate. */
  window: Float64Array;
  windowHead: number;
  maintenanceUntil: number;
  readonly allowList: ReadonlySet<string> | undefined;
  accepted: number;
  readonly rejectedByCode: Map<number, number>;
  /** Acceptance times within the last second, for the sliding-window maximum. */
  readonly recent: number[];
  recentHead: number;
  maxInSecond: number;
  /** Pair pacing per recipient (wa_id): see pair-pacing.ts. */
  readonly pairs: Map<string, PairState>;
  /** Times of 131056 refusals per recipient, for pairPacing (at most the last 1,000 each). */
  readonly pairRejected: Map<string, number[]>;
  /** Last inbound message per recipient: the customer service window. */
  readonly windows: Map<string, number>;
}

export interface MediaItem {
  readonly id: string;
  readonly phoneNumberId: string;
  readonly mimeType: string;
  /** Replaced by `tamperMedia` (the sha256 still announces the original). */
  data: Buffer;
  readonly sha256Hex: string;
  /** Brought forward by `expireMedia`. */
  expiresAt: number;
  readonly filename: string | undefined;
  /** URL look-ups and downloads served (complete or cut), for tests. */
  lookups?: number;
  downloads?: number;
}

export interface InboundRecord {
  readonly wamid: string;
  readonly phoneNumberId: string;
  readonly waId: string;
  readonly at: number;
  readAt: number | undefined;
}

/** Settings fixed at creation, after defaults. */
export interface EngineConfig {
  readonly seed: string;
  readonly throughputMps: number;
  readonly upgradedThroughputMps: number;
  readonly pair: PairRule;
  readonly serviceWindowMs: number;
  readonly brazilLegacyAccounts: boolean;
  readonly templateReviewMs: number;
  readonly managementCallsPerHour: number;
  readonly messagingLimit: number | "unlimited";
  readonly messagingLimitErrorCode: number;
  readonly marketing: { readonly perUserPer24h?: number; readonly pauseUsRecipients?: boolean };
  readonly templateCreationsPerHour: number;
  readonly retainMessages: number;
  readonly defaultGraphVersion: string;
  readonly defaultNumberId: string;
  readonly defaultWabaId: string;
  readonly nonWhatsApp: ReadonlySet<string>;
}

/** Everything the simulator knows, passed to each concern's module. */
export interface Engine {
  readonly clock: Clock;
  readonly config: EngineConfig;
  readonly rng: {
    readonly ids: Rng;
    readonly status: Rng;
    readonly faults: Rng;
    readonly headers: Rng;
  };
  readonly emitter: WebhookEmitter;
  profile: StatusProfile;
  faults: FaultOptions;
  readonly scripted: { fault: ScriptedFault; endpoint: string; to: string | undefined }[];
  /** Where media download links point (the server's own URL once it listens). */
  baseUrl: string;
  /** A scripted `delay` fault for the request being handled. */
  extraDelayMs: number;
  readonly tokens: Map<string, AccessTokenConfig>;
  readonly numbers: Map<string, NumberState>;
  readonly wabas: Map<string, string[]>;
  readonly users: Map<string, SimUser>;
  /** BSUID -> wa_id of the users created so far. */
  readonly userIds: Map<string, string>;
  readonly messages: Map<string, OutRecord>;
  readonly inbound: Map<string, InboundRecord>;
  readonly media: Map<string, MediaItem>;
  readonly mediaUrls: Map<string, { mediaId: string; expiresAt: number }>;
  /** Keyed `wabaId:name:language`. */
  readonly templates: Map<string, SimTemplate>;
  readonly rejected: Rejection[];
  readonly reads: { wamid: string; at: number; typing: boolean }[];
  readonly verifications: WebhookVerification[];
  /** Runs `fn` after `delayMs` on the simulator's clock (cleared by stop()). */
  later(delayMs: number, fn: () => void): void;
}

export function bounded<K, V>(map: Map<K, V>, max: number): void {
  // Maps iterate in insertion order: drop the oldest. Evicting a tenth at a time keeps this
  // amortised O(1) (iterating from the start after single deletions walks the tombstones).
  if (map.size <= max) return;
  let excess = map.size - max + Math.ceil(max / 10);
  for (const k of map.keys()) {
    if (excess-- <= 0) break;
    map.delete(k);
  }
}

/**
 * Keeps a list to at most `max` of its newest items. It drops a tenth more than needed at once:
 * dropping one item from the front of a full list on every push costs O(max) each time.
 */
export function trimFront(list: unknown[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max + Math.ceil(max / 10));
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function maskDigits(d: string): string {
  const s = d.replace(/\D/g, "");
  return s.length <= 5
    ? "*".repeat(s.length)
    : `${s.slice(0, 3)}${"*".repeat(s.length - 5)}${s.slice(-2)}`;
}

/** The value of `min..max` drawn from `rng`. */
export function between(rng: Rng, r: readonly [number, number]): number {
  return r[0] + rng.next() * (r[1] - r[0]);
}
