import {
  metaJsonStringify,
  signWebhookBody,
  type InboundMessage,
  type StatusUpdate,
  type WebhookContact,
  type WebhookError,
  type WebhookPayload,
} from "@parley/cloud-api";
import { Agent } from "undici";
import type { Clock } from "./clock.js";

/**
 * Meta retries a failed POST immediately, then with decreasing frequency for up to 7 days
 * (reference §4.2). The exact gaps are undisclosed; these sum to about 6.5 days.
 */
export const META_RETRY_DELAYS_MS: readonly number[] = [
  0, 30_000, 120_000, 600_000, 3_600_000, 10_800_000, 28_800_000, 86_400_000, 172_800_000,
  259_200_000,
];

export interface WebhookOptions {
  /** Post webhooks at all (status and inbound). Off for raw-throughput benchmarks. */
  readonly enabled: boolean;
  /** Updates per POST (Meta: 1 to 1,000, not guaranteed). */
  readonly maxBatchSize: number;
  /** How long a due update may wait for others to share its POST. */
  readonly batchWindowMs: number;
  /** Concurrent POSTs in flight (Meta delivers concurrently). */
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly retryDelaysMs: readonly number[];
  /** Multiplies retryDelaysMs: 0.001 turns 7 days into about 10 minutes. */
  readonly retryTimeScale: number;
  /** Bound on POSTs waiting for a free slot; beyond it updates are dropped and recorded. */
  readonly maxQueue: number;
}

export const defaultWebhookOptions: WebhookOptions = {
  enabled: true,
  maxBatchSize: 1,
  batchWindowMs: 0,
  concurrency: 16,
  timeoutMs: 10_000,
  retryDelaysMs: META_RETRY_DELAYS_MS,
  retryTimeScale: 1,
  maxQueue: 100_000,
};

export type WebhookUpdate =
  | {
      readonly kind: "status";
      readonly wabaId: string;
      readonly phoneNumberId: string;
      readonly displayPhoneNumber: string;
      readonly status: StatusUpdate;
      readonly contact?: WebhookContact;
    }
  | {
      readonly kind: "message";
      readonly wabaId: string;
      readonly phoneNumberId: string;
      readonly displayPhoneNumber: string;
      readonly message: InboundMessage;
      readonly contact: WebhookContact;
    }
  | {
      readonly kind: "error";
      readonly wabaId: string;
      readonly phoneNumberId: string;
      readonly displayPhoneNumber: string;
      readonly error: WebhookError;
    }
  | {
      readonly kind: "field";
      readonly wabaId: string;
      readonly field: string;
      readonly value: Readonly<Record<string, unknown>>;
    };

/** Posts one signed body; resolves to the HTTP status, rejects on network failure. */
export type WebhookDeliverer = (
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
) => Promise<number>;

export interface DeliveryRecord {
  readonly deliveryId: number;
  readonly url: string;
  readonly attempt: number;
  readonly at: number;
  readonly outcome: number | "network-error" | "dropped";
  readonly updates: number;
  readonly payload: WebhookPayload;
}

export function createUndiciDeliverer(timeoutMs: number): {
  deliver: WebhookDeliverer;
  close: () => Promise<void>;
} {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  return {
    async deliver(url, body, headers) {
      const u = new URL(url);
      const res = await agent.request({
        origin: u.origin,
        path: u.pathname + u.search,
        method: "POST",
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      return res.statusCode;
    },
    close: () => agent.close(),
  };
}

/** Builds Meta's envelope: one entry per WABA, one change per phone number and kind. */
export function buildPayload(updates: readonly WebhookUpdate[], timeSec: number): WebhookPayload {
  const entries = new Map<
    string,
    { id: string; changes: Map<string, { field: string; value: Record<string, unknown> }> }
  >();
  for (const u of updates) {
    let entry = entries.get(u.wabaId);
    if (!entry) {
      entry = { id: u.wabaId, changes: new Map() };
      entries.set(u.wabaId, entry);
    }
    if (u.kind === "field") {
      entry.changes.set(`${u.field}:${entry.changes.size}`, {
        field: u.field,
        value: { ...u.value },
      });
      continue;
    }
    const key = `${u.phoneNumberId}:${u.kind}`;
    let change = entry.changes.get(key);
    if (!change) {
      change = {
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: {
            display_phone_number: u.displayPhoneNumber,
            phone_number_id: u.phoneNumberId,
          },
        },
      };
      entry.changes.set(key, change);
    }
    const v = change.value;
    const push = (k: string, item: unknown): void => {
      const list = (v[k] as unknown[] | undefined) ?? [];
      list.push(item);
      v[k] = list;
    };
    if (u.kind === "status") {
      if (u.contact) push("contacts", u.contact);
      push("statuses", u.status);
    } else if (u.kind === "message") {
      push("contacts", u.contact);
      push("messages", u.message);
    } else {
      push("errors", u.error);
    }
  }
  const hasTime = (changes: Iterable<{ field: string }>): boolean =>
    [...changes].some((c) => c.field !== "messages");
  return {
    object: "whatsapp_business_account",
    entry: [...entries.values()].map((e) => ({
      id: e.id,
      ...(hasTime(e.changes.values()) ? { time: timeSec } : {}),
      changes: [...e.changes.values()],
    })),
  };
}

export interface WebhookEmitter {
  /** Queues an update to become visible at `atMs` (clock time). */
  schedule(update: WebhookUpdate, atMs: number): void;
  /** Whether `schedule` does anything (false when webhooks are off or the emitter stopped). */
  accepting(): boolean;
  deliveries(): readonly DeliveryRecord[];
  inFlight(): number;
  setUrls(urls: readonly string[]): void;
  stop(): Promise<void>;
}

export function createWebhookEmitter({
  clock,
  appSecret,
  urls: initialUrls,
  options,
  deliver,
  shouldDrop,
  historyLimit = 10_000,
}: {
  clock: Clock;
  appSecret: string;
  urls: readonly string[];
  options: WebhookOptions;
  deliver: WebhookDeliverer;
  /** Fault injection: decides (deterministically) whether a POST is silently dropped. */
  shouldDrop: () => boolean;
  historyLimit?: number;
}): WebhookEmitter {
  if (options.maxBatchSize < 1 || options.maxBatchSize > 1000)
    throw new RangeError("maxBatchSize must be 1..1000");
  if (options.concurrency < 1) throw new RangeError("webhook concurrency must be at least 1");
  let urls = [...initialUrls];
  for (const u of urls) assertUrl(u);
  const timers = new Set<unknown>();
  const outbox: WebhookUpdate[] = [];
  let flushTimer: unknown;
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let nextDeliveryId = 1;
  let stopped = false;
  const history: DeliveryRecord[] = [];

  function record(r: DeliveryRecord): void {
    history.push(r);
    // Trimmed a tenth at a time: removing one record from the front per delivery is O(limit).
    if (history.length > historyLimit)
      history.splice(0, history.length - historyLimit + Math.ceil(historyLimit / 10));
  }

  function later(delayMs: number, fn: () => void): void {
    const h = clock.setTimer(delayMs, () => {
      timers.delete(h);
      if (!stopped) fn();
    });
    timers.add(h);
  }

  function attempt(
    deliveryId: number,
    url: string,
    payload: WebhookPayload,
    body: string,
    sig: string,
    n: number,
    count: number,
  ): void {
    const run = (): void => {
      inFlight++;
      const headers = {
        "content-type": "application/json",
        "x-hub-signature-256": sig,
        "user-agent": "facebookexternalua",
      };
      deliver(url, body, headers).then(
        (status) => {
          done(status);
        },
        () => {
          done("network-error");
        },
      );
    };
    const done = (outcome: number | "network-error"): void => {
      inFlight--;
      record({ deliveryId, url, attempt: n, at: clock.now(), outcome, updates: count, payload });
      const next = waiting.shift();
      if (next) next();
      if (outcome === 200 || stopped) return;
      const delay = options.retryDelaysMs[n - 1];
      if (delay === undefined) return;
      later(delay * options.retryTimeScale, () => {
        attempt(deliveryId, url, payload, body, sig, n + 1, count);
      });
    };
    if (inFlight < options.concurrency) run();
    else if (waiting.length < options.maxQueue) waiting.push(run);
    else
      record({
        deliveryId,
        url,
        attempt: n,
        at: clock.now(),
        outcome: "dropped",
        updates: count,
        payload,
      });
  }

  function flush(): void {
    flushTimer = undefined;
    // Bounded: each pass removes up to maxBatchSize updates.
    while (outbox.length > 0) {
      const batch = outbox.splice(0, options.maxBatchSize);
      const payload = buildPayload(batch, Math.floor(clock.now() / 1000));
      const body = metaJsonStringify(payload);
      const sig = signWebhookBody(body, appSecret);
      const deliveryId = nextDeliveryId++;
      if (shouldDrop()) {
        record({
          deliveryId,
          url: urls[0] ?? "",
          attempt: 0,
          at: clock.now(),
          outcome: "dropped",
          updates: batch.length,
          payload,
        });
        continue;
      }
      if (urls.length === 0) {
        record({
          deliveryId,
          url: "",
          attempt: 0,
          at: clock.now(),
          outcome: "dropped",
          updates: batch.length,
          payload,
        });
      }
      for (const url of urls) attempt(deliveryId, url, payload, body, sig, 1, batch.length);
    }
  }

  // Updates wait in one min-heap ordered by (due time, scheduling order) under one clock timer
  // armed for the earliest: a timer per status costs more than the status itself at high rates.
  const heap: Scheduled[] = [];
  let seq = 0;
  let armed: unknown;
  let armedAt = Infinity;

  function arm(): void {
    const head = heap[0];
    if (head === undefined || stopped) return;
    if (armed !== undefined) {
      if (armedAt <= head.at) return;
      clock.clearTimer(armed);
    }
    armedAt = head.at;
    armed = clock.setTimer(Math.max(0, head.at - clock.now()), fire);
  }

  function fire(): void {
    armed = undefined;
    armedAt = Infinity;
    if (stopped) return;
    const now = clock.now();
    let due = 0;
    for (let head = heap[0]; head !== undefined && head.at <= now; head = heap[0]) {
      heapPop(heap);
      enqueue(head.update);
      due++;
    }
    const head = heap[0];
    if (due === 0 && head !== undefined) {
      // A system timer may fire a fraction of a millisecond early: wait at least 1 ms more.
      armedAt = head.at;
      armed = clock.setTimer(Math.max(1, head.at - now), fire);
      return;
    }
    arm();
  }

  function enqueue(update: WebhookUpdate): void {
    outbox.push(update);
    if (outbox.length >= options.maxBatchSize) {
      if (flushTimer !== undefined) clock.clearTimer(flushTimer);
      flush();
    } else if (flushTimer === undefined) {
      flushTimer = clock.setTimer(options.batchWindowMs, flush);
    }
  }

  return {
    schedule(update, atMs) {
      if (!options.enabled || stopped) return;
      heapPush(heap, { at: Math.max(atMs, clock.now()), seq: seq++, update });
      arm();
    },
    accepting: () => options.enabled && !stopped,
    deliveries: () => history,
    inFlight: () => inFlight,
    setUrls(next) {
      for (const u of next) assertUrl(u);
      urls = [...next];
    },
    async stop() {
      stopped = true;
      for (const h of timers) clock.clearTimer(h);
      timers.clear();
      if (flushTimer !== undefined) clock.clearTimer(flushTimer);
      if (armed !== undefined) clock.clearTimer(armed);
      armed = undefined;
      heap.length = 0;
      waiting.length = 0;
      await Promise.resolve();
    },
  };
}

interface Scheduled {
  readonly at: number;
  readonly seq: number;
  readonly update: WebhookUpdate;
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function heapPush(h: Scheduled[], e: Scheduled): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = h[p] as Scheduled;
    if (!before(e, parent)) break;
    h[i] = parent;
    i = p;
  }
  h[i] = e;
}

function heapPop(h: Scheduled[]): void {
  const last = h.pop();
  if (last === undefined || h.length === 0) return;
  let i = 0;
  const n = h.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && before(h[r] as Scheduled, h[l] as Scheduled) ? r : l;
    const child = h[c] as Scheduled;
    if (!before(child, last)) break;
    h[i] = child;
    i = c;
  }
  h[i] = last;
}

function assertUrl(u: string): void {
  const url = new URL(u);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new RangeError(`webhook URL must be http(s): ${u}`);
}
