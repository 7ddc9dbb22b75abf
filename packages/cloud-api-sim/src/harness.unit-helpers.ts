// Shared set-up for the simulator's unit specs: manual clock, webhooks captured in memory.
import { verifyWebhookSignature, type StatusUpdate, type WebhookPayload } from "@parley/cloud-api";
import { createManualClock, type ManualClock } from "./clock.js";
import type { SimulatorOptions } from "./options.js";
import { createSimulator, type SimResponse, type Simulator } from "./simulator.js";

export interface Captured {
  readonly url: string;
  readonly body: string;
  readonly signature: string;
  readonly payload: WebhookPayload;
  readonly at: number;
}

export interface Harness {
  readonly sim: Simulator;
  readonly clock: ManualClock;
  readonly posts: Captured[];
  /** Answer for the next webhook POSTs (default 200). */
  answers: number[];
  send(
    body: unknown,
    o?: { phoneNumberId?: string; token?: string },
  ): { status: number; json: Record<string, unknown> };
  call(
    method: string,
    path: string,
    o?: { body?: unknown; token?: string },
  ): { status: number; json: Record<string, unknown> };
  statuses(): (StatusUpdate & { at: number })[];
  /** Lets timers and the webhook promises run. */
  settle(ms: number): Promise<void>;
}

export const USER = "16505551234";
export const SECRET = "test-secret";
export const TOKEN = "test-token";

export function answerOf(res: SimResponse): { status: number; json: Record<string, unknown> } {
  if (res.kind === "hang") return { status: 0, json: { hang: true } };
  const text = typeof res.body === "string" ? res.body : res.body.toString("utf8");
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
}

export function harness(options: SimulatorOptions = {}): Harness {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const posts: Captured[] = [];
  const h: Harness = {
    sim: undefined as unknown as Simulator,
    clock,
    posts,
    answers: [],
    send(body, o = {}) {
      return h.call("POST", `/v23.0/${o.phoneNumberId ?? h.sim.defaultPhoneNumberId}/messages`, {
        body,
        ...(o.token !== undefined ? { token: o.token } : {}),
      });
    },
    call(method, path, o = {}) {
      const url = new URL(path, "http://sim");
      const res = h.sim.handle({
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: {
          authorization: `Bearer ${o.token ?? TOKEN}`,
          "content-type": "application/json",
        },
        body: Buffer.from(o.body === undefined ? "" : JSON.stringify(o.body)),
      });
      return answerOf(res);
    },
    statuses() {
      return posts.flatMap((p) =>
        p.payload.entry.flatMap((e) =>
          e.changes.flatMap((c) =>
            ((c.value as { statuses?: StatusUpdate[] }).statuses ?? []).map((s) => ({
              ...s,
              at: p.at,
            })),
          ),
        ),
      );
    },
    async settle(ms) {
      // Advance in small steps so promise callbacks (webhook answers) run between timers.
      const step = Math.max(1, Math.floor(ms / 200));
      for (let t = 0; t < ms; t += step) {
        clock.advance(step);
        await new Promise<void>((r) => setImmediate(r));
      }
    },
  };
  (h as { sim: Simulator }).sim = createSimulator({
    seed: "test",
    clock,
    appSecret: SECRET,
    accessTokens: [{ token: TOKEN }],
    webhookUrls: ["http://127.0.0.1:9/webhook"],
    statuses: {
      sentDelayMs: [100, 100],
      deliveredDelayMs: [100, 100],
      readDelayMs: [100, 100],
      readProbability: 1,
      skipDeliveredProbability: 0,
    },
    deliver: (url, body, headers) => {
      const signature = headers["x-hub-signature-256"] ?? "";
      if (!verifyWebhookSignature(body, signature, SECRET))
        throw new Error("simulator signed a webhook wrongly");
      posts.push({
        url,
        body,
        signature,
        payload: JSON.parse(body) as WebhookPayload,
        at: clock.now(),
      });
      return Promise.resolve(h.answers.shift() ?? 200);
    },
    ...options,
  });
  return h;
}

export function text(
  to: string,
  body = "hi",
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { messaging_product: "whatsapp", to, type: "text", text: { body }, ...extra };
}

export function errorCode(r: { json: Record<string, unknown> }): number | undefined {
  return (r.json["error"] as { code?: number } | undefined)?.code;
}
