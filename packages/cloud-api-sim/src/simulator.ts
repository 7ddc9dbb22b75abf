// The simulator: builds the state and each concern's module, routes Graph requests to them and
// exposes the control and inspection API. Each concern lives in its own file.
import { normalizePhoneNumber } from "@parley/cloud-api";
import { authenticate } from "./auth.js";
import { createDebugToken } from "./debug-token.js";
import { systemClock } from "./clock.js";
import { downloadFault, injectFault } from "./faults.js";
import { numericId } from "./ids.js";
import { createUserSends } from "./inbound.js";
import { createInspection } from "./inspection.js";
import { createMediaApi } from "./media.js";
import {
  DEFAULT_APP_ID,
  DEFAULT_APP_SECRET,
  DEFAULT_DISPLAY_NUMBER,
  DEFAULT_PHONE_NUMBER_ID,
  DEFAULT_TOKEN,
  DEFAULT_WABA_ID,
  defaultFaults,
  defaultStatusProfile,
  type PhoneNumberConfig,
  type SimulatorOptions,
} from "./options.js";
import { createQuotas } from "./quotas.js";
import { createRecipients } from "./recipients.js";
import { createResponder } from "./responses.js";
import { createRng } from "./rng.js";
import { createSendApi, type FailAsync } from "./send.js";
import { DAY, trimFront, type Engine, type NumberState } from "./state.js";
import { createStatuses } from "./statuses.js";
import { createTemplateApi } from "./template-api.js";
import type { SimTemplate } from "./templates.js";
import { toGraph } from "./templates.js";
import type { SimRequest, SimResponse, Simulator, WebhookVerification } from "./types.js";
import { createUndiciGet, verifySubscriber } from "./verification.js";
import { createUndiciDeliverer, createWebhookEmitter, defaultWebhookOptions } from "./webhooks.js";

export type {
  InboundContent,
  NumberStats,
  PairPacing,
  Rejection,
  SentMessage,
  SimRequest,
  SimResponse,
  SimUser,
  Simulator,
  StatusEvent,
  WebhookVerification,
} from "./types.js";
export { trimFront } from "./state.js";

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

/** Builds a simulator. Pass a manual clock and a `deliver` function for fully in-memory tests. */
export function createSimulator({
  seed = "parley",
  clock = systemClock,
  appSecret = DEFAULT_APP_SECRET,
  appId = DEFAULT_APP_ID,
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
  webhookGet,
  throughputMps = 80,
  upgradedThroughputMps = 1_000,
  pairRule = "borrow",
  pairBurst = 45,
  pairRefillMs = 6_000,
  pairBurstWindowMs = 6_000,
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
  if (
    !Number.isInteger(pairBurst) ||
    pairBurst < 1 ||
    !(pairRefillMs > 0) ||
    !(pairBurstWindowMs > 0)
  )
    throw new RangeError(
      "pairBurst must be a positive integer, pairRefillMs and pairBurstWindowMs > 0",
    );
  // Options may come from a JSON file (the CLI's --config), where the type is not checked.
  if (!["borrow", "bucket"].includes(pairRule))
    throw new RangeError('pairRule must be "borrow" (Meta\'s rule) or "bucket"');
  if (appSecret.length === 0)
    throw new RangeError("appSecret must not be empty: webhooks are signed with it");
  if (messagingLimit !== "unlimited" && !(Number.isInteger(messagingLimit) && messagingLimit >= 0))
    throw new RangeError('messagingLimit must be a non-negative integer or "unlimited"');
  const firstBusiness = businesses[0];
  const firstNumber = firstBusiness?.phoneNumbers[0];
  if (!firstBusiness || !firstNumber)
    throw new RangeError("configure at least one business with one phone number");

  const rngFaults = createRng(`${String(seed)}:faults`);
  const rngVerify = createRng(`${String(seed)}:verify`);
  const ownedDeliverer = deliver
    ? undefined
    : createUndiciDeliverer(webhooks.timeoutMs ?? defaultWebhookOptions.timeoutMs);
  const get = webhookGet ?? createUndiciGet(webhooks.timeoutMs ?? defaultWebhookOptions.timeoutMs);
  let urls = [...webhookUrls];
  const timers = new Set<unknown>();
  const engine: Engine = {
    clock,
    config: {
      seed: String(seed),
      throughputMps,
      upgradedThroughputMps,
      pair: {
        rule: pairRule,
        burst: pairBurst,
        refillMs: pairRefillMs,
        burstWindowMs: pairBurstWindowMs,
      },
      serviceWindowMs,
      brazilLegacyAccounts,
      templateReviewMs,
      managementCallsPerHour,
      messagingLimit,
      messagingLimitErrorCode,
      marketing,
      templateCreationsPerHour,
      retainMessages,
      defaultGraphVersion,
      defaultNumberId: firstNumber.id,
      defaultWabaId: firstBusiness.wabaId,
      nonWhatsApp: new Set(nonWhatsAppNumbers.map((d) => d.replace(/\D/g, ""))),
    },
    rng: {
      ids: createRng(`${String(seed)}:ids`),
      status: createRng(`${String(seed)}:statuses`),
      faults: rngFaults,
      headers: createRng(`${String(seed)}:headers`),
    },
    emitter: createWebhookEmitter({
      clock,
      appSecret,
      urls,
      options: { ...defaultWebhookOptions, ...webhooks },
      deliver: deliver ?? (ownedDeliverer as NonNullable<typeof ownedDeliverer>).deliver,
      shouldDrop: () => rngFaults.chance(engine.faults.webhookDropRate),
    }),
    profile: { ...defaultStatusProfile, ...statuses },
    faults: { ...defaultFaults, ...faults },
    scripted: [],
    baseUrl: publicBaseUrl.replace(/\/+$/, ""),
    extraDelayMs: 0,
    tokens: new Map(accessTokens.map((t) => [t.token, t])),
    numbers: new Map(),
    wabas: new Map(),
    users: new Map(),
    userIds: new Map(),
    messages: new Map(),
    inbound: new Map(),
    media: new Map(),
    mediaUrls: new Map(),
    templates: new Map(),
    rejected: [],
    reads: [],
    verifications: [],
    later(delayMs, fn) {
      const h = clock.setTimer(delayMs, () => {
        timers.delete(h);
        fn();
      });
      timers.add(h);
    },
  };
  const { numbers, wabas, templates, emitter } = engine;

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
      pairs: new Map(),
      pairRejected: new Map(),
      windows: new Map(),
    });
    wabas.set(wabaId, [...(wabas.get(wabaId) ?? []), n.id]);
  }
  for (const b of businesses) for (const n of b.phoneNumbers) addNumber(b.wabaId, n);

  const r = createResponder(engine);
  const debugToken = createDebugToken({ engine, responder: r, appId, appSecret });
  const quotas = createQuotas(engine);
  const recipients = createRecipients(engine);
  const statusApi = createStatuses(engine);
  const templateApi = createTemplateApi(engine, r, quotas, statusApi);
  const sendApi = createSendApi(engine, r, quotas, recipients, statusApi, templateApi);
  const mediaApi = createMediaApi(engine, r);
  const userSends = createUserSends(engine, quotas, recipients, mediaApi);
  const inspection = createInspection(engine, recipients);

  function phoneNumberFields(pn: NumberState, req: SimRequest, version: string): SimResponse {
    if (!quotas.countManagementCall(pn.wabaId))
      return r.error(80007, version, {}, quotas.usageHeader(pn.wabaId));
    const all: Record<string, unknown> = {
      display_phone_number: `+${pn.display}`,
      verified_name: pn.verifiedName,
      quality_rating: "GREEN",
      code_verification_status: "VERIFIED",
      platform_type: "CLOUD_API",
      throughput: { level: pn.level },
      whatsapp_business_manager_messaging_limit: quotas.messagingLimitTier(),
    };
    const wanted = req.query
      .get("fields")
      ?.split(",")
      .map((f) => f.trim()) ?? ["display_phone_number", "verified_name", "quality_rating"];
    const out: Record<string, unknown> = {};
    for (const f of wanted) if (f in all) out[f] = all[f];
    out["id"] = pn.id;
    return r.answer(200, out, version, quotas.usageHeader(pn.wabaId));
  }

  /** Graph's answer for an id it cannot serve with this method (GraphMethodException 100/33). */
  function unsupported(method: string, id: string, version: string): SimResponse {
    return r.error(100, version, {
      subcode: 33,
      type: "GraphMethodException",
      message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    });
  }

  function handle(req: SimRequest): SimResponse {
    engine.extraDelayMs = 0;
    const segments = pathSegments(req.path);
    let version = defaultGraphVersion;
    let at = 0;
    const first = segments[0];
    if (first !== undefined && VERSION_SEGMENT.test(first)) {
      version = first;
      at = 1;
    }
    if (segments[0] === "whatsapp_business" && segments[1] === "attachments") {
      const denied = authenticate(engine, r, req, version);
      if (denied) return denied;
      const fault = downloadFault(engine, r, req);
      if (fault?.kind === "cut") return mediaApi.download(req, fault);
      return fault ?? mediaApi.download(req);
    }
    const id = segments[at];
    const edge = segments[at + 1];
    if (id === "debug_token" && edge === undefined) return debugToken(req, version);
    if (id === undefined || segments.length > at + 2)
      return unsupported(req.method, req.path, version);

    const pn = numbers.get(id);
    const denied = authenticate(
      engine,
      r,
      req,
      version,
      pn?.id ?? (wabas.has(id) ? id : undefined),
    );
    if (denied) return denied;

    const endpoint =
      edge === "messages"
        ? "messages"
        : edge === "media" || engine.media.has(id)
          ? "media"
          : "templates";
    const fault = injectFault(engine, r, endpoint, version, req);
    let failAsync: FailAsync | undefined;
    if (typeof fault === "object") {
      if (fault.kind !== "fail-async") return fault;
      failAsync = fault;
    }

    if (pn && edge === "messages" && req.method === "POST")
      return sendApi.send(pn, req.body, version, fault === "after-accept", failAsync);
    if (pn && edge === "media" && req.method === "POST") return mediaApi.upload(pn, req, version);
    if (pn && edge === undefined && req.method === "GET")
      return phoneNumberFields(pn, req, version);
    if (wabas.has(id) && edge === "message_templates")
      return templateApi.endpoint(id, req, version);
    if (wabas.has(id) && edge === "phone_numbers" && req.method === "GET") {
      const list = (wabas.get(id) ?? [])
        .map((n) => numbers.get(n))
        .filter((n): n is NumberState => n !== undefined);
      return r.answer(
        200,
        {
          data: list.map((n) => ({
            id: n.id,
            display_phone_number: `+${n.display}`,
            verified_name: n.verifiedName,
          })),
        },
        version,
        quotas.usageHeader(id),
      );
    }
    if (edge === undefined) {
      const tpl = [...templates.values()].find((t) => t.id === id);
      if (tpl && req.method === "GET") return r.answer(200, toGraph(tpl), version);
      const live = mediaApi.live(id, req.query.get("phone_number_id"));
      if (live && req.method === "GET") return mediaApi.lookUp(live, version);
      if (live && req.method === "DELETE") {
        engine.media.delete(id);
        return r.answer(200, { success: true }, version);
      }
    }
    return unsupported(req.method, id, version);
  }

  async function verify(url: string, verifyToken: string): Promise<WebhookVerification> {
    const v = await verifySubscriber(get, rngVerify, url, verifyToken, () => clock.now());
    engine.verifications.push(v);
    trimFront(engine.verifications, 1_000);
    return v;
  }

  function findTemplate(name: string, language: string, wabaId: string): SimTemplate {
    const t = templateApi.find(wabaId, name, language);
    if (!t) throw new RangeError(`no template ${name}/${language} in WABA ${wabaId}`);
    return t;
  }

  return {
    handle,
    clock,
    appSecret,
    accessToken: accessTokens[0]?.token ?? DEFAULT_TOKEN,
    defaultPhoneNumberId: firstNumber.id,
    defaultWabaId: firstBusiness.wabaId,
    setPublicBaseUrl(url) {
      engine.baseUrl = url.replace(/\/+$/, "");
    },
    setWebhookUrls(next) {
      emitter.setUrls(next);
      urls = [...next];
    },
    async registerWebhook(url, verifyToken) {
      const v = await verify(url, verifyToken);
      if (v.verified && !urls.includes(url)) {
        urls = [...urls, url];
        emitter.setUrls(urls);
      }
      return v;
    },
    verifyWebhook: verify,
    webhookVerifications: () => engine.verifications,
    grantAccessToken(t) {
      if (t.token.length === 0) throw new RangeError("an access token cannot be empty");
      engine.tokens.set(t.token, t);
    },
    revokeAccessToken(token) {
      engine.tokens.delete(token);
    },
    addUser(u) {
      const user = recipients.ensureUser(u.waId.replace(/\D/g, ""), u.userId);
      if (u.name !== undefined) user.name = u.name;
      if (u.readReceipts !== undefined) user.readReceipts = u.readReceipts;
      return user;
    },
    userSends,
    addTemplate(t) {
      const wabaId = t.wabaId ?? firstBusiness.wabaId;
      if (!wabas.has(wabaId)) throw new RangeError(`unknown WABA ${wabaId}`);
      const components = [
        ...(t.header !== undefined
          ? [{ type: "HEADER" as const, format: "TEXT" as const, text: t.header }]
          : []),
        { type: "BODY" as const, text: t.body },
        ...(t.footer !== undefined ? [{ type: "FOOTER" as const, text: t.footer }] : []),
      ];
      const tpl: SimTemplate = {
        id: numericId(engine.rng.ids),
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
    setTemplateStatus(name, language, status, wabaId = firstBusiness.wabaId) {
      templateApi.setStatus(findTemplate(name, language, wabaId), status);
    },
    upgradeThroughput(phoneNumberId, durationMs = 60_000) {
      const pn = numbers.get(phoneNumberId);
      if (!pn) throw new RangeError(`unknown phone number id ${phoneNumberId}`);
      pn.maintenanceUntil = clock.now() + durationMs;
      engine.later(durationMs, () => {
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
      engine.profile = { ...engine.profile, ...p };
    },
    setFaults(f) {
      engine.faults = { ...engine.faults, ...f };
    },
    queueDelay() {
      return engine.faults.queueing.kind === "none" ? 0 : r.draw(engine.faults.queueing);
    },
    scriptFaults(list, match = {}) {
      for (const fault of list)
        engine.scripted.push({
          fault,
          endpoint: match.endpoint ?? "any",
          to: match.to?.replace(/\D/g, ""),
        });
    },
    clearFaults() {
      engine.faults = { ...defaultFaults };
      engine.scripted.length = 0;
    },
    expireMedia(mediaId) {
      const item = engine.media.get(mediaId);
      if (!item) throw new RangeError(`no media ${mediaId}`);
      item.expiresAt = Math.min(item.expiresAt, clock.now());
    },
    mediaStats(mediaId) {
      const item = engine.media.get(mediaId);
      return { lookups: item?.lookups ?? 0, downloads: item?.downloads ?? 0 };
    },
    tamperMedia(mediaId, data) {
      const item = engine.media.get(mediaId);
      if (!item) throw new RangeError(`no media ${mediaId}`);
      if (data !== undefined) {
        item.data = Buffer.from(data);
        return;
      }
      const altered = Buffer.from(item.data);
      const at = altered.length - 1;
      if (at >= 0) altered[at] = (altered[at] ?? 0) ^ 0xff;
      item.data = altered;
    },
    messages: (filter) => inspection.messages(filter),
    received: (waId) => inspection.received(waId),
    rejections: () => engine.rejected,
    pairPacing: (filter) => inspection.pairPacing(filter),
    resetStats: () => {
      inspection.resetStats();
    },
    webhookDeliveries: () => emitter.deliveries(),
    stats: () => inspection.stats(),
    markedRead: () => engine.reads,
    async stop() {
      for (const h of timers) clock.clearTimer(h);
      timers.clear();
      await emitter.stop();
      await ownedDeliverer?.close();
    },
  };
}
