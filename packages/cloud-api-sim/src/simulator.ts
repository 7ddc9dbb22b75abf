import { createHash } from "node:crypto";
import {
  MessageValidationError,
  mediaKindOf,
  mediaLimits,
  normalizePhoneNumber,
  STATIC_STICKER_MAX_BYTES,
  validateMessage,
  type CountryCode,
  type CreateTemplateRequest,
  type DeliveryStatus,
  type InboundMessage,
  type OutboundMessage,
  type StatusUpdate,
  type TemplateStatus,
} from "@parley/cloud-api";
import { systemClock, type Clock } from "./clock.js";
import { graphError, webhookError, type SimError } from "./graph-errors.js";
import { numericId, wamid } from "./ids.js";
import { parseMultipart } from "./multipart.js";
import {
  DEFAULT_APP_SECRET,
  DEFAULT_DISPLAY_NUMBER,
  DEFAULT_PHONE_NUMBER_ID,
  DEFAULT_TOKEN,
  DEFAULT_WABA_ID,
  defaultFaults,
  defaultStatusProfile,
  type FaultOptions,
  type LatencyDistribution,
  type AccessTokenConfig,
  type PhoneNumberConfig,
  type ScriptedFault,
  type SimulatorOptions,
  type StatusProfile,
} from "./options.js";
import { createRng } from "./rng.js";
import { checkTemplateSend, toGraph, type SimTemplate } from "./templates.js";
import {
  createUndiciDeliverer,
  createWebhookEmitter,
  defaultWebhookOptions,
  type DeliveryRecord,
  type WebhookUpdate,
} from "./webhooks.js";

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

/**
 * Internal record of an accepted send, kept compact (up to `retainMessages` of them live): the
 * request body as received, parsed again only when inspected, and the planned status times as
 * numbers (NaN when the status will not happen). Statuses are revealed as the clock passes them.
 */
class OutRecord {
  sentAt = NaN;
  deliveredAt = NaN;
  readAt = NaN;
  failedAt = NaN;
  failureCode: number | undefined = undefined;
  /** Set for sends addressed by BSUID (`recipient`). */
  userId: string | undefined = undefined;
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

/** Sends to one recipient from one business number, for checking a sender's pair pacing. */
export interface PairPacing {
  readonly phoneNumberId: string;
  readonly waId: string;
  /** Acceptance times (epoch ms) of the retained sends, in order. */
  readonly acceptedAt: readonly number[];
  /** Times of sends refused with 131056 (pair rate limit hit). */
  readonly rejectedAt: readonly number[];
  /**
   * Accepted sends that a token bucket of `burst` refilled one per `refillMs` would have refused
   * (empty with the simulator's own limits, which it enforces; useful with stricter ones).
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

interface NumberState {
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
  /**
   * Pair pacing per recipient (wa_id) as a theoretical arrival time: the token bucket of
   * `pairBurst` refilled one per `pairRefillMs`, kept as one number (GCRA). A send at `now` is
   * allowed when tat - now <= (pairBurst - 1) * pairRefillMs; it moves tat to max(tat, now) + refill.
   */
  readonly pairTat: Map<string, number>;
  /** Times of 131056 refusals per recipient, for pairPacing (at most the last 1,000 each). */
  readonly pairRejected: Map<string, number[]>;
  /** Last inbound message per recipient: the customer service window. */
  readonly windows: Map<string, number>;
}

interface MediaItem {
  readonly id: string;
  readonly phoneNumberId: string;
  readonly mimeType: string;
  readonly data: Buffer;
  readonly sha256Hex: string;
  readonly expiresAt: number;
  readonly filename: string | undefined;
}

interface InboundRecord {
  readonly wamid: string;
  readonly phoneNumberId: string;
  readonly waId: string;
  readonly at: number;
  readAt: number | undefined;
}

const DAY = 86_400_000;
const JSON_CONTENT_TYPE = "application/json; charset=UTF-8";

function bounded<K, V>(map: Map<K, V>, max: number): void {
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

const VERSION_SEGMENT = /^v\d+\.\d+$/;

/** The non-empty segments of a path: `path.split("/").filter(nonEmpty)` without the closure. */
function pathSegments(path: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 0x2f) {
      if (i > start) out.push(path.slice(start, i));
      start = i + 1;
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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
      readonly endpoint?: "messages" | "media" | "templates" | "any";
      readonly to?: string;
    },
  ): void;
  clearFaults(): void;

  messages(filter?: {
    readonly to?: string;
    readonly phoneNumberId?: string;
  }): readonly SentMessage[];
  /** What one user received, in acceptance order, with status event times. */
  received(waId: string): readonly SentMessage[];
  rejections(): readonly Rejection[];
  /**
   * Per (business number, recipient): acceptance times of the retained sends and the times of
   * 131056 refusals, so a test can check a sender's pair pacing (burst 45, then one per 6 s).
   * `burst`/`refillMs` (default: the simulator's own) set the bucket `overLimitAt` is checked
   * against. Only pairs with at least one send or refusal are listed.
   */
  pairPacing(filter?: {
    readonly to?: string;
    readonly phoneNumberId?: string;
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

/** Builds a simulator. Pass a manual clock and a `deliver` function for fully in-memory tests. */
export function createSimulator({
  seed = "parley",
  clock = systemClock,
  appSecret = DEFAULT_APP_SECRET,
  accessTokens = [{ token: DEFAULT_TOKEN }],
  businesses = [
    {
      wabaId: DEFAULT_WABA_ID,
      phoneNumbers: [{ id: DEFAULT_PHONE_NUMBER_ID, displayPhoneNumber: DEFAULT_DISPLAY_NUMBER }],
    },
  ],
  webhookUrls = [],
  webhooks = {},
  statuses = {},
  faults = {},
  deliver,
  throughputMps = 80,
  upgradedThroughputMps = 1_000,
  pairBurst = 45,
  pairRefillMs = 6_000,
  serviceWindowMs = DAY,
  nonWhatsAppNumbers = [],
  brazilLegacyAccounts = true,
  templateReviewMs = 1_000,
  managementCallsPerHour = 5_000,
  messagingLimit = "unlimited",
  messagingLimitErrorCode = 131049,
  marketing = {},
  templateCreationsPerHour = 100,
  retainMessages = 100_000,
  publicBaseUrl = "http://127.0.0.1:4010",
  defaultGraphVersion = "v23.0",
}: SimulatorOptions = {}): Simulator {
  if (
    !Number.isInteger(throughputMps) ||
    !Number.isInteger(upgradedThroughputMps) ||
    throughputMps < 1 ||
    upgradedThroughputMps < 1
  ) {
    throw new RangeError("throughputMps and upgradedThroughputMps must be positive integers");
  }
  if (pairBurst < 1 || pairRefillMs <= 0)
    throw new RangeError("pairBurst must be >= 1 and pairRefillMs > 0");
  if (appSecret.length === 0)
    throw new RangeError("appSecret must not be empty: webhooks are signed with it");
  const firstBusiness = businesses[0];
  const firstNumber = firstBusiness?.phoneNumbers[0];
  if (!firstBusiness || !firstNumber)
    throw new RangeError("configure at least one business with one phone number");
  const defaultNumberId = firstNumber.id;
  const defaultWabaId = firstBusiness.wabaId;

  const rngIds = createRng(`${String(seed)}:ids`);
  const rngStatus = createRng(`${String(seed)}:statuses`);
  const rngFaults = createRng(`${String(seed)}:faults`);
  const rngHeaders = createRng(`${String(seed)}:headers`);
  let profile: StatusProfile = { ...defaultStatusProfile, ...statuses };
  let faultOptions: FaultOptions = { ...defaultFaults, ...faults };
  const scripted: { fault: ScriptedFault; endpoint: string; to: string | undefined }[] = [];
  let baseUrl = publicBaseUrl.replace(/\/+$/, "");

  const ownedDeliverer = deliver
    ? undefined
    : createUndiciDeliverer(webhooks.timeoutMs ?? defaultWebhookOptions.timeoutMs);
  const emitter = createWebhookEmitter({
    clock,
    appSecret,
    urls: webhookUrls,
    options: { ...defaultWebhookOptions, ...webhooks },
    deliver: deliver ?? (ownedDeliverer as NonNullable<typeof ownedDeliverer>).deliver,
    shouldDrop: () => rngFaults.chance(faultOptions.webhookDropRate),
  });

  const tokens = new Map(accessTokens.map((t) => [t.token, t]));
  const numbers = new Map<string, NumberState>();
  const wabas = new Map<string, string[]>();
  function addNumber(wabaId: string, n: PhoneNumberConfig): void {
    const parsed = normalizePhoneNumber(`+${n.displayPhoneNumber.replace(/\D/g, "")}`);
    const mps =
      n.throughputMps ?? (n.highThroughput === true ? upgradedThroughputMps : throughputMps);
    if (!Number.isInteger(mps) || mps < 1)
      throw new RangeError(`throughputMps of phone number ${n.id} must be a positive integer`);
    numbers.set(n.id, {
      id: n.id,
      wabaId,
      display: n.displayPhoneNumber.replace(/\D/g, ""),
      country: parsed.country,
      countryCallingCode: parsed.countryCallingCode,
      verifiedName: n.verifiedName ?? "Parley Simulator",
      mps,
      // A number set above the standard rate is an upgraded one: Graph reports HIGH for it, and a
      // client applying Meta's level under its own ceiling may use the rate set here.
      level: n.highThroughput === true || mps > throughputMps ? "HIGH" : "STANDARD",
      window: new Float64Array(mps).fill(-Infinity),
      windowHead: 0,
      maintenanceUntil: 0,
      allowList: n.allowList ? new Set(n.allowList.map((d) => d.replace(/\D/g, ""))) : undefined,
      accepted: 0,
      rejectedByCode: new Map(),
      recent: [],
      recentHead: 0,
      maxInSecond: 0,
      pairTat: new Map(),
      pairRejected: new Map(),
      windows: new Map(),
    });
    wabas.set(wabaId, [...(wabas.get(wabaId) ?? []), n.id]);
  }
  for (const b of businesses) for (const n of b.phoneNumbers) addNumber(b.wabaId, n);

  const users = new Map<string, SimUser>();
  /** BSUID -> wa_id of the users created so far. */
  const userIds = new Map<string, string>();
  /**
   * Messaging limit: wa_id -> last business-initiated send, and those sends in time order (an
   * entry is live while it is the user's latest; the log is compacted to about the live ones).
   */
  const reach = new Map<string, number>();
  let reachLog: { at: number; waId: string }[] = [];
  let reachHead = 0;
  /** Per-user marketing limit: wa_id -> times of marketing templates outside a window. */
  const marketingLog = new Map<string, number[]>();
  const templateCreations = new Map<string, number[]>();
  if (messagingLimit !== "unlimited" && !(Number.isInteger(messagingLimit) && messagingLimit >= 0))
    throw new RangeError('messagingLimit must be a non-negative integer or "unlimited"');
  const nonWhatsApp = new Set(nonWhatsAppNumbers.map((d) => d.replace(/\D/g, "")));
  const messages = new Map<string, OutRecord>();
  const inbound = new Map<string, InboundRecord>();
  const media = new Map<string, MediaItem>();
  const mediaUrls = new Map<string, { mediaId: string; expiresAt: number }>();
  const templates = new Map<string, SimTemplate>();
  const rejected: Rejection[] = [];
  const reads: { wamid: string; at: number; typing: boolean }[] = [];
  const normCache = new Map<string, { waId: string } | null>();
  const mgmtCalls = new Map<string, { hour: number; count: number }>();
  const timers = new Set<unknown>();
  /** A scripted `delay` fault for the request being handled. */
  let extraDelayMs = 0;

  function later(delayMs: number, fn: () => void): void {
    const h = clock.setTimer(delayMs, () => {
      timers.delete(h);
      fn();
    });
    timers.add(h);
  }

  // ---------- helpers ----------

  function answer(
    status: number,
    body: unknown,
    extra?: Readonly<Record<string, string>>,
    version = defaultGraphVersion,
  ): SimResponse {
    return answerText(status, JSON.stringify(body), extra, version);
  }

  /** `answer` for a body already serialised (the hot send path builds its JSON as text). */
  function answerText(
    status: number,
    text: string,
    extra?: Readonly<Record<string, string>>,
    version = defaultGraphVersion,
  ): SimResponse {
    // An object literal, not spreads: spreading a constant header object into a new literal
    // costs microseconds per call in V8, more than the rest of a send.
    const ids = rngHeaders.token(34); // both opaque ids from one draw
    const headers: Record<string, string> = {
      "content-type": JSON_CONTENT_TYPE,
      "x-fb-trace-id": ids.slice(0, 11),
      "x-fb-request-id": ids.slice(11),
      "x-fb-rev": "1019283746",
      "facebook-api-version": version,
    };
    if (extra !== undefined) for (const k of Object.keys(extra)) headers[k] = extra[k] as string;
    return { kind: "answer", status, headers, body: text, delayMs: latency() };
  }

  function fail(e: SimError, version?: string): SimResponse {
    return answer(
      e.status,
      e.body,
      { "www-authenticate": e.status === 401 ? 'OAuth "Facebook Platform" "invalid_token"' : "" },
      version,
    );
  }

  function reject(
    pn: NumberState,
    code: number,
    to: string | undefined,
    o: { details?: string; subcode?: number } = {},
    version?: string,
    at = clock.now(),
  ): SimResponse {
    pn.rejectedByCode.set(code, (pn.rejectedByCode.get(code) ?? 0) + 1);
    rejected.push({
      at,
      phoneNumberId: pn.id,
      code,
      to: to === undefined ? undefined : maskDigits(to),
    });
    trimFront(rejected, 10_000);
    return fail(graphError(code, rngIds, o), version);
  }

  function latency(): number {
    const drawn = draw(faultOptions.latency);
    return extraDelayMs > 0 ? extraDelayMs + drawn : drawn;
  }

  function draw(l: LatencyDistribution): number {
    switch (l.kind) {
      case "none":
        return 0;
      case "fixed":
        return l.ms;
      case "uniform":
        return l.minMs + rngFaults.next() * (l.maxMs - l.minMs);
      case "exponential":
        return Math.min(l.maxMs, -Math.log(1 - rngFaults.next()) * l.meanMs);
      case "normal": {
        const u = 1 - rngFaults.next();
        const v = rngFaults.next();
        const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        return Math.max(0, Math.min(l.maxMs, l.meanMs + z * l.stdDevMs));
      }
    }
  }

  function between(r: readonly [number, number]): number {
    return r[0] + rngStatus.next() * (r[1] - r[0]);
  }

  function maskDigits(d: string): string {
    const s = d.replace(/\D/g, "");
    return s.length <= 5
      ? "*".repeat(s.length)
      : `${s.slice(0, 3)}${"*".repeat(s.length - 5)}${s.slice(-2)}`;
  }

  /** Meta's rewriting of some countries' numbers (reference §10). */
  function canonicalWaId(digits: string): string {
    if (brazilLegacyAccounts && /^55\d{2}9\d{8}$/.test(digits))
      return digits.slice(0, 4) + digits.slice(5);
    if (/^52\d{10}$/.test(digits)) return `521${digits.slice(2)}`;
    if (/^54\d{10}$/.test(digits)) return `549${digits.slice(2)}`;
    return digits;
  }

  function resolveRecipient(pn: NumberState, to: string): { waId: string } | null {
    // With "+", Meta only strips punctuation; the full parse is needed only to prepend a country.
    if (to.startsWith("+") && /^\+[\d\s\-()]+$/.test(to)) {
      const digits = to.replace(/\D/g, "");
      if (digits.length >= 8 && digits.length <= 15 && digits[0] !== "0")
        return { waId: canonicalWaId(digits) };
    }
    const key = `${pn.country ?? pn.countryCallingCode}|${to}`;
    const cached = normCache.get(key);
    if (cached !== undefined) return cached;
    let result: { waId: string } | null;
    try {
      // Without "+", Meta reads the number in the business number's country (reference §1.1).
      const n = normalizePhoneNumber(to, pn.country ? { defaultCountry: pn.country } : {});
      result = { waId: canonicalWaId(n.digits) };
    } catch {
      result = null;
    }
    normCache.set(key, result);
    bounded(normCache, 50_000);
    return result;
  }

  /** A stable BSUID per user: the region of the number and 20 digits from the seed. */
  function bsuidFor(waId: string): string {
    let region = "ZZ";
    try {
      region = normalizePhoneNumber(`+${waId}`).country ?? "ZZ";
    } catch {
      // not a dialable number: keep ZZ
    }
    const hash = createHash("sha256")
      .update(`${String(seed)}:bsuid:${waId}`)
      .digest();
    let digits = String(1 + ((hash[0] ?? 0) % 9));
    for (let i = 1; digits.length < 20; i++) digits += String((hash[i] ?? 0) % 10);
    return `${region}.${digits}`;
  }

  function ensureUser(waId: string, userId?: string): SimUser {
    let u = users.get(waId);
    if (!u) {
      u = {
        waId,
        userId: userId ?? bsuidFor(waId),
        name: `User ${waId.slice(-4)}`,
        readReceipts: true,
      };
      users.set(waId, u);
      userIds.set(u.userId, waId);
      bounded(users, 1_000_000);
      bounded(userIds, 1_000_000);
    }
    return u;
  }

  /** Messaging limit: may a business-initiated send reach this user now? Records it if so. */
  function takeReach(waId: string, now: number): boolean {
    if (messagingLimit === "unlimited") return true;
    const since = now - DAY;
    for (let e = reachLog[reachHead]; e !== undefined && e.at <= since; e = reachLog[reachHead]) {
      if (reach.get(e.waId) === e.at) reach.delete(e.waId);
      reachHead++;
    }
    if (!reach.has(waId) && reach.size >= messagingLimit) return false;
    reach.set(waId, now);
    reachLog.push({ at: now, waId });
    if (reachLog.length - reachHead > 2 * reach.size + 1024) {
      // Mostly superseded entries (users reached again): keep only each user's latest.
      reachLog = reachLog.slice(reachHead).filter((e) => reach.get(e.waId) === e.at);
      reachHead = 0;
    } else if (reachHead > 4096) {
      reachLog.splice(0, reachHead);
      reachHead = 0;
    }
    return true;
  }

  /** The per-user marketing limit: may this marketing template be delivered? Records it if so. */
  function takeMarketing(waId: string, now: number): boolean {
    if (marketing.pauseUsRecipients === true && waId.startsWith("1")) return false;
    const cap = marketing.perUserPer24h;
    if (cap === undefined) return true;
    const times = (marketingLog.get(waId) ?? []).filter((t) => t > now - DAY);
    if (times.length >= cap) {
      marketingLog.set(waId, times);
      return false;
    }
    times.push(now);
    marketingLog.set(waId, times);
    bounded(marketingLog, 1_000_000);
    return true;
  }

  function messagingLimitTier(): string {
    if (messagingLimit === "unlimited") return "TIER_UNLIMITED";
    if (messagingLimit >= 1000 && messagingLimit % 1000 === 0)
      return `TIER_${String(messagingLimit / 1000)}K`;
    return `TIER_${String(messagingLimit)}`;
  }

  /**
   * At most `mps` messages (inbound included) in any sliding second: the oldest of the last `mps`
   * must be a second old. Meta's exact algorithm is undisclosed; this one never lets a burst through.
   */
  function takeThroughput(pn: NumberState, now: number, force = false): boolean {
    const oldest = pn.window[pn.windowHead] ?? -Infinity;
    if (!force && oldest > now - 1000) return false;
    pn.window[pn.windowHead] = now;
    pn.windowHead = (pn.windowHead + 1) % pn.window.length;
    return true;
  }

  const pairSlack = (pairBurst - 1) * pairRefillMs;
  const MAX_PAIRS = 200_000;

  function takePair(pn: NumberState, waId: string, now: number): boolean {
    const tat = pn.pairTat.get(waId);
    const base = tat === undefined || tat < now ? now : tat;
    if (base - now > pairSlack) {
      let list = pn.pairRejected.get(waId);
      if (list === undefined) {
        list = [];
        pn.pairRejected.set(waId, list);
        bounded(pn.pairRejected, MAX_PAIRS);
      }
      list.push(now);
      trimFront(list, 1_000);
      return false;
    }
    pn.pairTat.set(waId, base + pairRefillMs);
    if (tat === undefined && pn.pairTat.size > MAX_PAIRS) prunePairs(pn, now);
    return true;
  }

  /** Forgets recipients whose bucket is full again (the same as never seen), then the oldest. */
  function prunePairs(pn: NumberState, now: number): void {
    for (const [waId, tat] of pn.pairTat) if (tat <= now) pn.pairTat.delete(waId);
    bounded(pn.pairTat, MAX_PAIRS);
  }

  function noteAccepted(pn: NumberState, now: number): void {
    pn.accepted++;
    pn.recent.push(now);
    while (pn.recentHead < pn.recent.length && (pn.recent[pn.recentHead] ?? now) <= now - 1000)
      pn.recentHead++;
    pn.maxInSecond = Math.max(pn.maxInSecond, pn.recent.length - pn.recentHead);
    if (pn.recentHead > 4096) {
      pn.recent.splice(0, pn.recentHead);
      pn.recentHead = 0;
    }
  }

  function windowOpen(pn: NumberState, waId: string, now: number): boolean {
    const last = pn.windows.get(waId);
    return last !== undefined && now - last < serviceWindowMs;
  }

  function countManagementCall(wabaId: string): boolean {
    const hour = Math.floor(clock.now() / 3_600_000);
    const c = mgmtCalls.get(wabaId);
    if (!c || c.hour !== hour) {
      mgmtCalls.set(wabaId, { hour, count: 1 });
      return true;
    }
    c.count++;
    return c.count <= managementCallsPerHour;
  }

  function usageHeader(wabaId: string): Record<string, string> {
    const c = mgmtCalls.get(wabaId);
    const pct = Math.min(100, Math.round(((c?.count ?? 0) * 100) / managementCallsPerHour));
    return {
      "x-business-use-case-usage": JSON.stringify({
        [wabaId]: [
          {
            type: "whatsapp",
            call_count: pct,
            total_cputime: 1,
            total_time: 1,
            estimated_time_to_regain_access: 0,
          },
        ],
      }),
    };
  }

  // ---------- webhooks for one outbound message ----------

  function statusWebhook(
    m: OutRecord,
    pn: NumberState,
    status: DeliveryStatus,
    at: number,
    extra: Partial<StatusUpdate> = {},
  ): WebhookUpdate {
    const s: StatusUpdate = {
      id: m.wamid,
      status,
      timestamp: String(Math.floor(at / 1000)),
      // Sent by BSUID: Meta leaves out recipient_id and names the user by BSUID (reference §4.5).
      ...(m.userId === undefined ? { recipient_id: m.waId } : { recipient_user_id: m.userId }),
      ...(m.callbackData !== undefined ? { biz_opaque_callback_data: m.callbackData } : {}),
      ...extra,
    };
    return {
      kind: "status",
      wabaId: pn.wabaId,
      phoneNumberId: pn.id,
      displayPhoneNumber: pn.display,
      status: s,
    };
  }

  function pricingFor(
    inWindow: boolean,
    category: string | undefined,
  ): NonNullable<StatusUpdate["pricing"]> {
    // Per-message pricing (2025-07 to 2026-10): service and utility-in-window are free.
    const cat = category ?? "service";
    const free = cat === "service" || (cat === "utility" && inWindow);
    return {
      billable: !free,
      pricing_model: "PMP",
      type: free ? "free_customer_service" : "regular",
      category: cat,
    };
  }

  function scheduleFailure(
    m: OutRecord,
    pn: NumberState,
    code: number,
    afterMs: number,
    details?: string,
  ): void {
    const at = clock.now() + afterMs;
    m.failedAt = at;
    m.failureCode = code;
    if (!emitter.accepting()) return; // webhooks off: nothing to build
    emitter.schedule(
      statusWebhook(m, pn, "failed", at, { errors: [webhookError(code, details)] }),
      at,
    );
  }

  function scheduleStatuses(
    m: OutRecord,
    pn: NumberState,
    o: { onlySent: boolean; inWindow: boolean; category: string | undefined },
  ): void {
    // Recipients nobody configured read like a default user; no user object per recipient.
    const readReceipts = users.get(m.waId)?.readReceipts ?? true;
    const now = clock.now();
    const sentAt = now + between(profile.sentDelayMs);
    const events: { status: DeliveryStatus; at: number }[] = [{ status: "sent", at: sentAt }];
    if (!o.onlySent) {
      const deliveredAt = sentAt + between(profile.deliveredDelayMs);
      const read = readReceipts && rngStatus.chance(profile.readProbability);
      const readAt = deliveredAt + between(profile.readDelayMs);
      const skipDelivered = read && rngStatus.chance(profile.skipDeliveredProbability);
      if (!skipDelivered) events.push({ status: "delivered", at: deliveredAt });
      if (read) events.push({ status: "read", at: skipDelivered ? deliveredAt : readAt });
    }
    // With webhooks off the updates are not built, but the random draws below still happen, so
    // a seed gives the same ids, delays and statuses either way.
    const hooks = emitter.accepting();
    const pricing = hooks ? pricingFor(o.inWindow, o.category) : undefined;
    let pricedFollowUp = false;
    const posts: { update: WebhookUpdate | undefined; at: number }[] = [];
    for (const e of events) {
      m.plan(e.status, e.at);
      let update: WebhookUpdate | undefined;
      if (pricing !== undefined) {
        let extra: Partial<StatusUpdate> = {};
        if (e.status === "sent") extra = { pricing };
        else if (!pricedFollowUp) {
          extra = { pricing };
          pricedFollowUp = true;
        }
        update = statusWebhook(m, pn, e.status, e.at, extra);
      }
      posts.push({ update, at: e.at });
    }
    // Out of order: the last status's webhook overtakes the one before it.
    if (posts.length >= 2 && rngStatus.chance(profile.outOfOrderProbability)) {
      const a = posts[posts.length - 2];
      const b = posts[posts.length - 1];
      if (a && b) [a.at, b.at] = [b.at, a.at - 1];
    }
    for (const p of posts) {
      if (p.update !== undefined) emitter.schedule(p.update, p.at);
      if (rngStatus.chance(profile.duplicateProbability)) {
        const again = p.at + between([50, 5_000]);
        if (p.update !== undefined) emitter.schedule(p.update, again);
      }
    }
  }

  // ---------- endpoints ----------

  function mediaRefProblem(pn: NumberState, msg: OutboundMessage): string | undefined {
    const ref: unknown = (msg as unknown as Record<string, unknown>)[msg.type];
    if (!isObject(ref) || typeof ref["id"] !== "string") return undefined;
    const item = media.get(ref["id"]);
    if (!item || item.expiresAt <= clock.now())
      return `media id ${ref["id"]} does not exist or has expired`;
    if (item.phoneNumberId !== pn.id)
      return `media id ${ref["id"]} belongs to another phone number`;
    return undefined;
  }

  function sendMessage(
    pn: NumberState,
    raw: Buffer,
    version: string,
    afterAccept: boolean,
    failAsync?: { readonly code: number; readonly afterMs?: number; readonly details?: string },
  ): SimResponse {
    // The text is kept as the record of the send (one string, parsed again only when inspected).
    const text = raw.toString("utf8");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const now = clock.now();
    if (!isObject(body))
      return reject(pn, 100, undefined, { details: "Request body must be a JSON object" }, version);
    if (body["messaging_product"] !== "whatsapp") {
      return reject(
        pn,
        100,
        undefined,
        { details: "The parameter messaging_product is required and must be whatsapp." },
        version,
      );
    }
    if (body["status"] === "read") return markRead(pn, body, version);
    if (pn.maintenanceUntil > now) return reject(pn, 131057, undefined, {}, version);
    // Recorded at the instant the window was judged, so a test can recount that window.
    if (!takeThroughput(pn, now)) return reject(pn, 130429, undefined, {}, version, now);

    let to = body["to"];
    // Since 2026 a user can be addressed by BSUID in `recipient` instead of `to` (reference §1.1).
    const bsuid =
      to === undefined && typeof body["recipient"] === "string" ? body["recipient"] : undefined;
    if (bsuid !== undefined) to = bsuid;
    if (typeof to !== "string" || to.length === 0)
      return reject(pn, 131008, undefined, { details: "The parameter to is required." }, version);
    if (typeof body["type"] !== "string") body["type"] = "text";
    try {
      validateMessage(body as unknown as OutboundMessage);
    } catch (e) {
      if (e instanceof MessageValidationError)
        return reject(
          pn,
          e.problem.includes("required") ? 131008 : 131009,
          to,
          { details: e.message },
          version,
        );
      throw e;
    }
    const msg = body as unknown as OutboundMessage;
    if (msg.recipient_type === "group")
      return reject(pn, 131009, to, { details: "Group messaging is not simulated." }, version);
    const recipient = bsuid === undefined ? resolveRecipient(pn, to) : bsuidRecipient(bsuid);
    if (!recipient)
      return reject(
        pn,
        100,
        bsuid === undefined ? to : undefined,
        {
          details:
            bsuid === undefined
              ? "Invalid parameter: to is not a valid phone number."
              : "Invalid parameter: recipient is not a known business-scoped user id.",
        },
        version,
      );
    const { waId } = recipient;
    if (waId === pn.display) return reject(pn, 131021, to, {}, version);
    if (pn.allowList && !pn.allowList.has(bsuid === undefined ? to.replace(/\D/g, "") : waId))
      return reject(pn, 131030, to, {}, version);

    let template: SimTemplate | undefined;
    if (msg.type === "template") {
      const check = checkTemplateSend(
        (name, language) => templates.get(`${pn.wabaId}:${name}:${language}`),
        msg.template,
      );
      if (!check.ok)
        return reject(
          pn,
          check.code,
          to,
          check.details !== undefined ? { details: check.details } : {},
          version,
        );
      template = check.template;
      // Authentication codes go to a phone number: a BSUID recipient is refused (simulator choice).
      if (bsuid !== undefined && template.category === "AUTHENTICATION")
        return reject(
          pn,
          131062,
          undefined,
          { details: "Authentication templates cannot be sent to a business-scoped user id." },
          version,
        );
    }
    // Pair pacing and the service window are both per (number, recipient).
    if (!takePair(pn, waId, now)) return reject(pn, 131056, to, {}, version);

    const id = wamid(waId, true, rngIds);
    const m = new OutRecord(id, pn.id, to, waId, msg.type, text, now, msg.biz_opaque_callback_data);
    if (bsuid !== undefined) m.userId = bsuid;
    messages.set(id, m);
    bounded(messages, retainMessages);
    noteAccepted(pn, now);

    const inWindow = windowOpen(pn, waId, now);
    const firstDelay = between(profile.sentDelayMs);
    const held = template?.pacing !== undefined;
    if (failAsync)
      scheduleFailure(m, pn, failAsync.code, failAsync.afterMs ?? firstDelay, failAsync.details);
    else if (nonWhatsApp.has(waId)) scheduleFailure(m, pn, 131026, firstDelay);
    else if (msg.type !== "template" && !inWindow) scheduleFailure(m, pn, 131047, firstDelay);
    else if (mediaRefProblem(pn, msg) !== undefined)
      scheduleFailure(m, pn, 131053, firstDelay, mediaRefProblem(pn, msg));
    else if (msg.type === "reaction" && !reactionTargetOk(msg.reaction.message_id, now)) {
      scheduleFailure(
        m,
        pn,
        131009,
        firstDelay,
        "The reaction target is unknown, older than 30 days, or a reaction.",
      );
    } else if (template !== undefined && !inWindow && !takeReach(waId, now)) {
      scheduleFailure(
        m,
        pn,
        messagingLimitErrorCode,
        firstDelay,
        `Messaging limit reached: ${String(messagingLimit)} unique users outside the customer service window in 24 hours.`,
      );
    } else if (template?.category === "MARKETING" && !inWindow && !takeMarketing(waId, now)) {
      scheduleFailure(
        m,
        pn,
        131049,
        firstDelay,
        "This message was not delivered to maintain healthy ecosystem engagement.",
      );
    } else if (held && template?.pacing) {
      const pacing = template.pacing;
      if (pacing.outcome === "drop") scheduleFailure(m, pn, 132015, pacing.afterMs);
      else
        later(pacing.afterMs, () => {
          scheduleStatuses(m, pn, {
            onlySent: false,
            inWindow,
            category: template.category.toLowerCase(),
          });
        });
    } else {
      scheduleStatuses(m, pn, {
        onlySent: msg.type === "reaction",
        inWindow,
        category: template ? template.category.toLowerCase() : undefined,
      });
    }
    if (afterAccept) return { kind: "hang", hangMs: faultOptions.hangMs };
    // The same bytes JSON.stringify gives for
    // {messaging_product, contacts: [{input, wa_id}], messages: [{id, message_status?}]}:
    // wa_id is digits and the wamid base64, so only `to` needs escaping.
    const status = template
      ? `,"message_status":"${held ? "held_for_quality_assessment" : "accepted"}"`
      : "";
    const contact =
      bsuid === undefined
        ? `{"input":${JSON.stringify(to)},"wa_id":"${waId}"}`
        : `{"input":${JSON.stringify(to)},"user_id":${JSON.stringify(bsuid)}}`;
    return answerText(
      200,
      `{"messaging_product":"whatsapp","contacts":[${contact}],"messages":[{"id":"${id}"${status}}]}`,
      undefined,
      version,
    );
  }

  function bsuidRecipient(bsuid: string): { waId: string } | null {
    const waId = userIds.get(bsuid);
    return waId === undefined ? null : { waId };
  }

  function view(m: OutRecord): SentMessage {
    const now = clock.now();
    const statuses: StatusEvent[] = [];
    if (m.sentAt <= now) statuses.push({ status: "sent", at: m.sentAt });
    if (m.deliveredAt <= now) statuses.push({ status: "delivered", at: m.deliveredAt });
    if (m.readAt <= now) statuses.push({ status: "read", at: m.readAt });
    const failed = m.failedAt <= now;
    if (failed) statuses.push({ status: "failed", at: m.failedAt });
    statuses.sort((a, b) => a.at - b.at);
    // The request body is parsed only when a test reads `message` (an own enumerable getter, so
    // JSON.stringify and spreads still include it): listing 100,000 sends stays cheap.
    let message: OutboundMessage | undefined;
    const raw = m.raw;
    return {
      wamid: m.wamid,
      phoneNumberId: m.phoneNumberId,
      input: m.input,
      waId: m.waId,
      type: m.type,
      get message(): OutboundMessage {
        if (message === undefined) {
          const parsed = JSON.parse(raw) as Record<string, unknown>;
          if (typeof parsed["type"] !== "string") parsed["type"] = "text";
          message = parsed as unknown as OutboundMessage;
        }
        return message;
      },
      acceptedAt: m.acceptedAt,
      callbackData: m.callbackData,
      ...(m.userId !== undefined ? { recipientUserId: m.userId } : {}),
      statuses,
      failure: failed ? m.failureCode : undefined,
    };
  }

  function reactionTargetOk(target: string, now: number): boolean {
    const inb = inbound.get(target);
    if (inb) return now - inb.at <= 30 * DAY;
    const out = messages.get(target);
    return out !== undefined && out.type !== "reaction" && now - out.acceptedAt <= 30 * DAY;
  }

  function markRead(pn: NumberState, body: Record<string, unknown>, version: string): SimResponse {
    const id = body["message_id"];
    const now = clock.now();
    const rec = typeof id === "string" ? inbound.get(id) : undefined;
    if (!rec || rec.phoneNumberId !== pn.id || now - rec.at > 30 * DAY) {
      return reject(
        pn,
        131009,
        undefined,
        { details: "Message ID is not valid or not an inbound message." },
        version,
      );
    }
    const typing = isObject(body["typing_indicator"]);
    // Reading one message reads every earlier one in the thread.
    for (const r of inbound.values()) {
      if (
        r.waId === rec.waId &&
        r.phoneNumberId === pn.id &&
        r.at <= rec.at &&
        r.readAt === undefined
      )
        r.readAt = now;
    }
    reads.push({ wamid: rec.wamid, at: now, typing });
    trimFront(reads, 10_000);
    return answer(200, { success: true }, {}, version);
  }

  function uploadMedia(pn: NumberState, req: SimRequest, version: string): SimResponse {
    const parts = parseMultipart(req.body, req.headers["content-type"] ?? "");
    if (!parts)
      return fail(graphError(100, rngIds, { details: "Expected multipart/form-data" }), version);
    const field = (name: string): string | undefined =>
      parts.find((p) => p.name === name)?.data.toString("utf8");
    if (field("messaging_product") !== "whatsapp")
      return fail(graphError(100, rngIds, { details: "messaging_product is required" }), version);
    const file = parts.find((p) => p.name === "file");
    if (!file)
      return fail(
        graphError(131008, rngIds, { details: "The parameter file is required." }),
        version,
      );
    const mimeType = field("type") ?? file.contentType ?? "";
    const kind = mediaKindOf(mimeType);
    if (!kind)
      return fail(
        graphError(131053, rngIds, { details: `Unsupported MIME type ${mimeType}` }),
        version,
      );
    const max =
      kind === "sticker"
        ? Math.max(STATIC_STICKER_MAX_BYTES, mediaLimits.sticker.maxBytes)
        : mediaLimits[kind].maxBytes;
    if (file.data.length === 0 || file.data.length > max) {
      return fail(
        graphError(131053, rngIds, {
          details: `File size ${file.data.length} outside 1..${max} bytes for ${kind}`,
        }),
        version,
      );
    }
    const item = storeMedia(pn.id, mimeType, file.data, 30 * DAY, file.filename);
    return answer(200, { id: item.id }, {}, version);
  }

  function storeMedia(
    phoneNumberId: string,
    mimeType: string,
    data: Buffer,
    ttlMs: number,
    filename?: string,
  ): MediaItem {
    const item: MediaItem = {
      id: numericId(rngIds),
      phoneNumberId,
      mimeType,
      data: Buffer.from(data),
      sha256Hex: createHash("sha256").update(data).digest("hex"),
      expiresAt: clock.now() + ttlMs,
      filename,
    };
    media.set(item.id, item);
    bounded(media, 10_000);
    return item;
  }

  function getMedia(item: MediaItem, version: string): SimResponse {
    const token = rngIds.token(32);
    mediaUrls.set(token, { mediaId: item.id, expiresAt: clock.now() + 5 * 60_000 });
    bounded(mediaUrls, 10_000);
    const ext = item.mimeType.split("/")[1]?.split(";")[0] ?? "bin";
    return answer(
      200,
      {
        messaging_product: "whatsapp",
        url: `${baseUrl}/whatsapp_business/attachments/?mid=${item.id}&ext=${ext}&hash=${token}`,
        mime_type: item.mimeType,
        sha256: item.sha256Hex,
        file_size: String(item.data.length),
        id: item.id,
      },
      {},
      version,
    );
  }

  function downloadMedia(req: SimRequest): SimResponse {
    const auth = authenticate(req);
    if (auth) return auth;
    const entry = mediaUrls.get(req.query.get("hash") ?? "");
    const item = entry ? media.get(entry.mediaId) : undefined;
    if (!entry || !item || entry.expiresAt <= clock.now() || item.expiresAt <= clock.now()) {
      return {
        kind: "answer",
        status: 404,
        headers: { "content-type": "text/plain" },
        body: "Not Found",
        delayMs: latency(),
      };
    }
    return {
      kind: "answer",
      status: 200,
      headers: { "content-type": item.mimeType, "content-length": String(item.data.length) },
      body: item.data,
      delayMs: latency(),
    };
  }

  function authenticate(req: SimRequest, asset?: string): SimResponse | undefined {
    const header = req.headers["authorization"];
    const token = header?.startsWith("Bearer ")
      ? header.slice(7).trim()
      : (req.query.get("access_token") ?? undefined);
    const t = token === undefined ? undefined : tokens.get(token);
    if (!t) {
      return fail(
        graphError(190, rngIds, {
          message: "Invalid OAuth access token - Cannot parse access token",
        }),
      );
    }
    if (t.expiresAt !== undefined && t.expiresAt <= clock.now()) {
      return fail(
        graphError(190, rngIds, {
          subcode: 463,
          message: "Error validating access token: Session has expired.",
        }),
      );
    }
    if (asset !== undefined && t.assets !== undefined && !t.assets.includes(asset)) {
      const pn = numbers.get(asset);
      if (!pn || !t.assets.includes(pn.wabaId))
        return fail(graphError(200, rngIds, { message: "(#200) Permissions error" }));
    }
    return undefined;
  }

  function objectNotFound(id: string, version: string): SimResponse {
    return fail(
      graphError(100, rngIds, {
        subcode: 33,
        message: `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
      }),
      version,
    );
  }

  function templatesEndpoint(wabaId: string, req: SimRequest, version: string): SimResponse {
    if (!countManagementCall(wabaId)) return fail(graphError(80007, rngIds), version);
    const usage = usageHeader(wabaId);
    const own = [...templates.values()].filter((t) => t.wabaId === wabaId);
    if (req.method === "GET") {
      const status = req.query.get("status");
      const name = req.query.get("name");
      const list = own.filter(
        (t) => (status === null || t.status === status) && (name === null || t.name === name),
      );
      const limit = Math.max(1, Math.min(1000, Number(req.query.get("limit") ?? "25") || 25));
      const after = req.query.get("after");
      const start =
        after === null ? 0 : Number(Buffer.from(after, "base64url").toString("utf8")) + 1;
      if (!Number.isInteger(start) || start < 0)
        return fail(graphError(100, rngIds, { details: "Invalid cursor" }), version);
      const page = list.slice(start, start + limit);
      const cursor = (i: number): string => Buffer.from(String(i)).toString("base64url");
      const last = start + page.length - 1;
      const hasMore = start + page.length < list.length;
      const next = new URLSearchParams(req.query);
      next.set("after", cursor(last));
      next.delete("access_token");
      return answer(
        200,
        {
          data: page.map(toGraph),
          paging: {
            ...(page.length > 0 ? { cursors: { before: cursor(start), after: cursor(last) } } : {}),
            ...(hasMore
              ? { next: `${baseUrl}/${version}/${wabaId}/message_templates?${next.toString()}` }
              : {}),
          },
        },
        usage,
        version,
      );
    }
    if (req.method === "POST") {
      let def: CreateTemplateRequest;
      try {
        def = JSON.parse(req.body.toString("utf8")) as CreateTemplateRequest;
      } catch {
        return fail(graphError(100, rngIds, { details: "Body is not JSON" }), version);
      }
      if (typeof def.name !== "string" || !/^[a-z0-9_]{1,512}$/.test(def.name)) {
        return fail(
          graphError(100, rngIds, {
            details: "name must be lowercase alphanumerics and underscores",
          }),
          version,
        );
      }
      if (!["MARKETING", "UTILITY", "AUTHENTICATION"].includes(def.category)) {
        return fail(
          graphError(100, rngIds, {
            details: "category must be MARKETING, UTILITY or AUTHENTICATION",
          }),
          version,
        );
      }
      if (typeof def.language !== "string" || !Array.isArray(def.components)) {
        return fail(
          graphError(131008, rngIds, { details: "language and components are required" }),
          version,
        );
      }
      // At most templateCreationsPerHour creations per WABA in a moving hour (reference §3.5).
      const now = clock.now();
      const created = (templateCreations.get(wabaId) ?? []).filter((t) => t > now - 3_600_000);
      templateCreations.set(wabaId, created);
      if (created.length >= templateCreationsPerHour) {
        return fail(
          graphError(80007, rngIds, {
            details: `Template creation limit reached: ${String(templateCreationsPerHour)} per WhatsApp Business Account per hour.`,
          }),
          version,
        );
      }
      if (templates.has(`${wabaId}:${def.name}:${def.language}`)) {
        return fail(
          graphError(100, rngIds, {
            subcode: 2388023,
            details: "Content in this language already exists",
          }),
          version,
        );
      }
      const t: SimTemplate = {
        id: numericId(rngIds),
        wabaId,
        name: def.name,
        language: def.language,
        category: def.category,
        status: "PENDING",
        parameterFormat: def.parameter_format ?? "POSITIONAL",
        components: def.components,
        quality: "UNKNOWN",
      };
      templates.set(`${wabaId}:${t.name}:${t.language}`, t);
      created.push(now);
      later(templateReviewMs, () => {
        if (t.status === "PENDING") setStatus(t, "APPROVED");
      });
      return answer(200, { id: t.id, status: t.status, category: t.category }, usage, version);
    }
    if (req.method === "DELETE") {
      const name = req.query.get("name");
      const hsmId = req.query.get("hsm_id");
      const doomed = own.filter((t) => t.name === name && (hsmId === null || t.id === hsmId));
      if (doomed.length === 0)
        return fail(
          graphError(100, rngIds, { details: `Template ${name ?? ""} not found` }),
          version,
        );
      for (const t of doomed) templates.delete(`${wabaId}:${t.name}:${t.language}`);
      return answer(200, { success: true }, usage, version);
    }
    return fail(graphError(100, rngIds, { details: "Unsupported method" }), version);
  }

  function setStatus(t: SimTemplate, status: TemplateStatus): void {
    t.status = status;
    const now = clock.now();
    emitter.schedule(
      {
        kind: "field",
        wabaId: t.wabaId,
        field: "message_template_status_update",
        value: {
          event: status,
          message_template_id: Number(t.id),
          message_template_name: t.name,
          message_template_language: t.language,
          message_template_category: t.category,
          reason: "NONE",
        },
      },
      now,
    );
  }

  function phoneNumberFields(pn: NumberState, req: SimRequest, version: string): SimResponse {
    if (!countManagementCall(pn.wabaId)) return fail(graphError(80007, rngIds), version);
    const all: Record<string, unknown> = {
      display_phone_number: `+${pn.display}`,
      verified_name: pn.verifiedName,
      quality_rating: "GREEN",
      code_verification_status: "VERIFIED",
      platform_type: "CLOUD_API",
      throughput: { level: pn.level },
      whatsapp_business_manager_messaging_limit: messagingLimitTier(),
    };
    const wanted = req.query
      .get("fields")
      ?.split(",")
      .map((f) => f.trim()) ?? ["display_phone_number", "verified_name", "quality_rating"];
    const out: Record<string, unknown> = {};
    for (const f of wanted) if (f in all) out[f] = all[f];
    out["id"] = pn.id;
    return answer(200, out, usageHeader(pn.wabaId), version);
  }

  /** The digits of a send's `to` (for faults scripted for one recipient), without a full parse. */
  function recipientOf(req: SimRequest): string | undefined {
    const m = /"to"\s*:\s*"([^"]*)"/.exec(req.body.toString("utf8"));
    return m?.[1]?.replace(/\D/g, "");
  }

  function pickScripted(endpoint: string, req: SimRequest): ScriptedFault | undefined {
    if (scripted.length === 0) return undefined;
    const to = scripted.some((s) => s.to !== undefined) ? recipientOf(req) : undefined;
    const i = scripted.findIndex(
      (s) =>
        (s.endpoint === "any" || s.endpoint === endpoint) && (s.to === undefined || s.to === to),
    );
    if (i < 0) return undefined;
    const [s] = scripted.splice(i, 1);
    return s?.fault;
  }

  function injectFault(
    endpoint: string,
    version: string,
    req: SimRequest,
  ): SimResponse | "after-accept" | Extract<ScriptedFault, { kind: "fail-async" }> | undefined {
    const s = pickScripted(endpoint, req);
    if (s) {
      switch (s.kind) {
        case "error":
          return fail(
            graphError(s.code, rngIds, s.http !== undefined ? { http: s.http } : {}),
            version,
          );
        case "raw":
          return {
            kind: "answer",
            status: s.status,
            headers: { "content-type": "text/html" },
            body: s.body,
            delayMs: latency(),
          };
        case "timeout":
          return { kind: "hang", hangMs: faultOptions.hangMs };
        case "timeout-after-accept":
          return "after-accept";
        case "delay":
          extraDelayMs = Math.max(0, s.ms);
          return undefined;
        case "fail-async":
          return endpoint === "messages" ? s : undefined;
      }
    }
    if (rngFaults.chance(faultOptions.timeoutRate))
      return { kind: "hang", hangMs: faultOptions.hangMs };
    if (rngFaults.chance(faultOptions.serverErrorRate)) {
      const code = [131000, 131016, 2][rngFaults.int(0, 2)] ?? 131000;
      return fail(graphError(code, rngIds), version);
    }
    if (endpoint === "messages" && rngFaults.chance(faultOptions.timeoutAfterAcceptRate))
      return "after-accept";
    return undefined;
  }

  function handle(req: SimRequest): SimResponse {
    extraDelayMs = 0;
    const segments = pathSegments(req.path);
    if (segments[0] === "whatsapp_business" && segments[1] === "attachments")
      return downloadMedia(req);
    let version = defaultGraphVersion;
    let at = 0;
    const first = segments[0];
    if (first !== undefined && VERSION_SEGMENT.test(first)) {
      version = first;
      at = 1;
    }
    const id = segments[at];
    const edge = segments[at + 1];
    if (id === undefined || segments.length > at + 2)
      return fail(graphError(100, rngIds, { details: "Unknown path" }), version);

    const pn = numbers.get(id);
    const denied = authenticate(req, pn?.id ?? (wabas.has(id) ? id : undefined));
    if (denied) return denied;

    const endpoint =
      edge === "messages" ? "messages" : edge === "media" || media.has(id) ? "media" : "templates";
    const fault = injectFault(endpoint, version, req);
    let failAsync: Extract<ScriptedFault, { kind: "fail-async" }> | undefined;
    if (typeof fault === "object") {
      if (fault.kind !== "fail-async") return fault;
      failAsync = fault;
    }

    if (pn && edge === "messages" && req.method === "POST")
      return sendMessage(pn, req.body, version, fault === "after-accept", failAsync);
    if (pn && edge === "media" && req.method === "POST") return uploadMedia(pn, req, version);
    if (pn && edge === undefined && req.method === "GET")
      return phoneNumberFields(pn, req, version);
    if (wabas.has(id) && edge === "message_templates") return templatesEndpoint(id, req, version);
    if (wabas.has(id) && edge === "phone_numbers" && req.method === "GET") {
      const list = (wabas.get(id) ?? [])
        .map((n) => numbers.get(n))
        .filter((n): n is NumberState => n !== undefined);
      return answer(
        200,
        {
          data: list.map((n) => ({
            id: n.id,
            display_phone_number: `+${n.display}`,
            verified_name: n.verifiedName,
          })),
        },
        {},
        version,
      );
    }
    if (edge === undefined) {
      const tpl = [...templates.values()].find((t) => t.id === id);
      if (tpl && req.method === "GET") return answer(200, toGraph(tpl), {}, version);
      const item = media.get(id);
      const owner = req.query.get("phone_number_id");
      const live =
        item && item.expiresAt > clock.now() && (owner === null || owner === item.phoneNumberId)
          ? item
          : undefined;
      if (live && req.method === "GET") return getMedia(live, version);
      if (live && req.method === "DELETE") {
        media.delete(id);
        return answer(200, { success: true }, {}, version);
      }
    }
    return objectNotFound(id, version);
  }

  // ---------- simulated users ----------

  function userSends(
    waIdInput: string,
    content: InboundContent,
    options: { readonly phoneNumberId?: string; readonly replyTo?: string } = {},
  ): { wamid: string; message: InboundMessage } {
    const pn = numbers.get(options.phoneNumberId ?? defaultNumberId);
    if (!pn) throw new RangeError(`unknown phone number id ${options.phoneNumberId ?? ""}`);
    const waId = canonicalWaId(waIdInput.replace(/\D/g, ""));
    const user = ensureUser(waId);
    const now = clock.now();
    takeThroughput(pn, now, true); // inbound counts toward the number's throughput, but is never refused
    pn.windows.set(waId, now);
    bounded(pn.windows, 500_000);
    const id = wamid(waId, false, rngIds);
    const common = {
      from: waId,
      from_user_id: user.userId,
      id,
      timestamp: String(Math.floor(now / 1000)),
      ...(options.replyTo !== undefined
        ? { context: { from: pn.display, id: options.replyTo } }
        : {}),
    };
    let message: InboundMessage;
    switch (content.type) {
      case "text":
        message = { ...common, type: "text", text: { body: content.body } };
        break;
      case "stop":
        message = { ...common, type: "text", text: { body: "STOP" } };
        break;
      case "image":
      case "video":
      case "audio":
      case "document":
      case "sticker": {
        const data = Buffer.from(content.data ?? Buffer.from(`${content.type}:${id}`));
        const item = storeMedia(pn.id, content.mimeType, data, 7 * DAY, content.filename);
        message = {
          ...common,
          type: content.type,
          [content.type]: {
            id: item.id,
            mime_type: content.mimeType,
            sha256: createHash("sha256").update(data).digest("base64"),
            ...(content.caption !== undefined ? { caption: content.caption } : {}),
            ...(content.filename !== undefined ? { filename: content.filename } : {}),
            ...(content.type === "audio" ? { voice: content.voice ?? false } : {}),
            ...(content.type === "sticker" ? { animated: false } : {}),
          },
        };
        break;
      }
      case "location":
        message = {
          ...common,
          type: "location",
          location: {
            latitude: content.latitude,
            longitude: content.longitude,
            ...(content.name !== undefined ? { name: content.name } : {}),
            ...(content.address !== undefined ? { address: content.address } : {}),
          },
        };
        break;
      case "contacts":
        message = { ...common, type: "contacts", contacts: content.contacts };
        break;
      case "button":
        message = {
          ...common,
          type: "button",
          button: { text: content.text, payload: content.payload },
        };
        break;
      case "button_reply":
        message = {
          ...common,
          type: "interactive",
          interactive: {
            type: "button_reply",
            button_reply: { id: content.id, title: content.title },
          },
        };
        break;
      case "list_reply":
        message = {
          ...common,
          type: "interactive",
          interactive: {
            type: "list_reply",
            list_reply: {
              id: content.id,
              title: content.title,
              ...(content.description !== undefined ? { description: content.description } : {}),
            },
          },
        };
        break;
      case "reaction":
        message = {
          ...common,
          type: "reaction",
          reaction: { message_id: content.messageId, emoji: content.emoji },
        };
        break;
      case "unsupported":
        message = {
          ...common,
          type: "unsupported",
          errors: [webhookError(131051, "Message type is currently not supported.")],
        };
        break;
    }
    inbound.set(id, { wamid: id, phoneNumberId: pn.id, waId, at: now, readAt: undefined });
    bounded(inbound, retainMessages);
    emitter.schedule(
      {
        kind: "message",
        wabaId: pn.wabaId,
        phoneNumberId: pn.id,
        displayPhoneNumber: pn.display,
        message,
        contact: { profile: { name: user.name }, wa_id: waId, user_id: user.userId },
      },
      now,
    );
    return { wamid: id, message };
  }

  function findTemplate(name: string, language: string, wabaId: string): SimTemplate {
    const t = templates.get(`${wabaId}:${name}:${language}`);
    if (!t) throw new RangeError(`no template ${name}/${language} in WABA ${wabaId}`);
    return t;
  }

  return {
    handle,
    clock,
    appSecret,
    accessToken: accessTokens[0]?.token ?? DEFAULT_TOKEN,
    defaultPhoneNumberId: defaultNumberId,
    defaultWabaId,
    setPublicBaseUrl(url) {
      baseUrl = url.replace(/\/+$/, "");
    },
    setWebhookUrls(urls) {
      emitter.setUrls(urls);
    },
    grantAccessToken(t) {
      if (t.token.length === 0) throw new RangeError("an access token cannot be empty");
      tokens.set(t.token, t);
    },
    revokeAccessToken(token) {
      tokens.delete(token);
    },
    addUser(u) {
      const user = ensureUser(u.waId.replace(/\D/g, ""), u.userId);
      if (u.name !== undefined) user.name = u.name;
      if (u.readReceipts !== undefined) user.readReceipts = u.readReceipts;
      return user;
    },
    userSends,
    addTemplate(t) {
      const wabaId = t.wabaId ?? defaultWabaId;
      if (!wabas.has(wabaId)) throw new RangeError(`unknown WABA ${wabaId}`);
      const components = [
        ...(t.header !== undefined
          ? [{ type: "HEADER" as const, format: "TEXT" as const, text: t.header }]
          : []),
        { type: "BODY" as const, text: t.body },
        ...(t.footer !== undefined ? [{ type: "FOOTER" as const, text: t.footer }] : []),
      ];
      const tpl: SimTemplate = {
        id: numericId(rngIds),
        wabaId,
        name: t.name,
        language: t.language,
        category: t.category ?? "UTILITY",
        status: t.status ?? "APPROVED",
        parameterFormat: t.parameterFormat ?? "POSITIONAL",
        components,
        quality: "GREEN",
        ...(t.pacing ? { pacing: t.pacing } : {}),
      };
      templates.set(`${wabaId}:${t.name}:${t.language}`, tpl);
      return tpl;
    },
    setTemplateStatus(name, language, status, wabaId = defaultWabaId) {
      setStatus(findTemplate(name, language, wabaId), status);
    },
    upgradeThroughput(phoneNumberId, durationMs = 60_000) {
      const pn = numbers.get(phoneNumberId);
      if (!pn) throw new RangeError(`unknown phone number id ${phoneNumberId}`);
      pn.maintenanceUntil = clock.now() + durationMs;
      later(durationMs, () => {
        pn.mps = upgradedThroughputMps;
        pn.window = new Float64Array(upgradedThroughputMps).fill(-Infinity);
        pn.windowHead = 0;
        pn.level = "HIGH";
        emitter.schedule(
          {
            kind: "field",
            wabaId: pn.wabaId,
            field: "phone_number_quality_update",
            value: {
              display_phone_number: pn.display,
              event: "THROUGHPUT_UPGRADE",
              max_daily_conversations_per_business: "TIER_UNLIMITED",
            },
          },
          clock.now(),
        );
      });
    },
    setStatusProfile(p) {
      profile = { ...profile, ...p };
    },
    setFaults(f) {
      faultOptions = { ...faultOptions, ...f };
    },
    queueDelay() {
      return faultOptions.queueing.kind === "none" ? 0 : draw(faultOptions.queueing);
    },
    scriptFaults(list, match = {}) {
      for (const fault of list)
        scripted.push({
          fault,
          endpoint: match.endpoint ?? "any",
          to: match.to?.replace(/\D/g, ""),
        });
    },
    clearFaults() {
      faultOptions = { ...defaultFaults };
      scripted.length = 0;
    },
    messages(filter = {}) {
      const waId =
        filter.to === undefined ? undefined : canonicalWaId(filter.to.replace(/\D/g, ""));
      return [...messages.values()]
        .map(view)
        .filter(
          (m) =>
            (waId === undefined || m.waId === waId) &&
            (filter.phoneNumberId === undefined || m.phoneNumberId === filter.phoneNumberId),
        );
    },
    received(waId) {
      const id = canonicalWaId(waId.replace(/\D/g, ""));
      return [...messages.values()].filter((m) => m.waId === id).map(view);
    },
    rejections: () => rejected,
    pairPacing(filter = {}) {
      const waIdFilter =
        filter.to === undefined ? undefined : canonicalWaId(filter.to.replace(/\D/g, ""));
      const burst = filter.burst ?? pairBurst;
      const refillMs = filter.refillMs ?? pairRefillMs;
      const byPair = new Map<string, { phoneNumberId: string; waId: string; times: number[] }>();
      const want = (phoneNumberId: string, waId: string): boolean =>
        (waIdFilter === undefined || waId === waIdFilter) &&
        (filter.phoneNumberId === undefined || phoneNumberId === filter.phoneNumberId);
      for (const m of messages.values()) {
        if (!want(m.phoneNumberId, m.waId)) continue;
        const key = `${m.phoneNumberId}:${m.waId}`;
        let e = byPair.get(key);
        if (!e) {
          e = { phoneNumberId: m.phoneNumberId, waId: m.waId, times: [] };
          byPair.set(key, e);
        }
        e.times.push(m.acceptedAt);
      }
      for (const pn of numbers.values()) {
        for (const waId of pn.pairRejected.keys()) {
          const key = `${pn.id}:${waId}`;
          if (!byPair.has(key) && want(pn.id, waId))
            byPair.set(key, { phoneNumberId: pn.id, waId, times: [] });
        }
      }
      return [...byPair.values()].map((e) => {
        const rejectedAt = [...(numbers.get(e.phoneNumberId)?.pairRejected.get(e.waId) ?? [])];
        const overLimitAt: number[] = [];
        let tokens = burst;
        let last = e.times[0] ?? 0;
        for (const t of e.times) {
          tokens = Math.min(burst, tokens + (t - last) / refillMs);
          last = t;
          if (tokens < 1) overLimitAt.push(t);
          else tokens -= 1;
        }
        return {
          phoneNumberId: e.phoneNumberId,
          waId: e.waId,
          acceptedAt: e.times,
          rejectedAt,
          overLimitAt,
          ok: rejectedAt.length === 0 && overLimitAt.length === 0,
        };
      });
    },
    resetStats() {
      for (const n of numbers.values()) {
        n.accepted = 0;
        n.rejectedByCode.clear();
        n.recent.length = 0;
        n.recentHead = 0;
        n.maxInSecond = 0;
      }
    },
    webhookDeliveries: () => emitter.deliveries(),
    stats() {
      return [...numbers.values()].map((n) => ({
        phoneNumberId: n.id,
        accepted: n.accepted,
        rejectedByCode: Object.fromEntries([...n.rejectedByCode].map(([k, v]) => [String(k), v])),
        maxAcceptedInAnySecond: n.maxInSecond,
        throughputMps: n.mps,
      }));
    },
    markedRead: () => reads,
    async stop() {
      for (const h of timers) clock.clearTimer(h);
      timers.clear();
      await emitter.stop();
      await ownedDeliverer?.close();
    },
  };
}
