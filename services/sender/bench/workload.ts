// The outbound benchmark's workload (bench/outbound.ts): the numbers and dispatch requests of its
// cases, and the baseline client that posts the same requests straight to the simulator.
import { Agent, request as httpRequest } from "node:http";

export const SIM_PORT = Number(process.env["BENCH_SIM_PORT"] ?? 47110);
export const WABA = "102290129340398";
export const TOKEN = "bench-token-0123456789";

export interface NumberSpec {
  readonly id: string;
  readonly mps: number;
}

export interface Request {
  readonly number: string;
  readonly to: string;
  readonly requestId: string;
}

export const template = { name: "order_update", language: { code: "en" } };

/** Recipients handed out so far in this run: no two calls of `requests` share one. */
let recipientsUsed = 0;

/**
 * `count` dispatches from `number`, `perRecipient` to each recipient (the last may get fewer),
 * to recipients no other call of this run uses: a sender process of another case, or the raw
 * client, never meets a recipient whose pair-pacing debt it cannot know (each case's sender has
 * its own database, so the attempt store cannot tell it). Requests come in blocks of `block`,
 * round robin over the block's recipients, so a recipient's sends are at most `block` requests
 * apart: at any of the bench's rates (80 msg/s and more, block 100) well inside the 6 s in which
 * Meta's pair rule lets a burst run (reference §3.2; a recipient sent to across the whole
 * backlog would owe Meta minutes of silence after 6 s, and the bench would measure the pair
 * rule, not the sender).
 */
export function requests(
  number: string,
  count: number,
  perRecipient: number,
  tag: string,
  block = 100,
): Request[] {
  const out: Request[] = [];
  const base = recipientsUsed;
  const perBlock = Math.max(1, Math.ceil(block / perRecipient));
  for (let i = 0; i < count; i++) {
    const b = Math.floor(i / block);
    const r = base + b * perBlock + ((i % block) % perBlock);
    out.push({
      number,
      to: `1${number.slice(-4)}${String(r).padStart(6, "0")}`,
      requestId: `${tag}-${number.slice(-4)}-${String(i)}`,
    });
  }
  recipientsUsed = base + Math.ceil(count / block) * perBlock;
  return out;
}

/** Posts `list` straight to the simulator: keep-alive pool, `concurrency` in flight, optional pacing. */
export async function rawClient(
  list: readonly Request[],
  concurrency: number,
  paceMps?: number,
): Promise<{ ok: number; failed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (path: string, body: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port: SIM_PORT,
          path,
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${TOKEN}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            resolve(res.statusCode ?? 0);
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  let next = 0;
  let ok = 0;
  let failed = 0;
  const t0 = Date.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const r = list[i];
      if (r === undefined) return;
      if (paceMps !== undefined) {
        // An ideal limiter: request i goes at t0 + i / rate (with the sender's 15 ms margin per second).
        const due = t0 + (i * 1_015) / paceMps;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      }
      const status = await post(
        `/v23.0/${r.number}/messages`,
        JSON.stringify({
          messaging_product: "whatsapp",
          recipient_type: "individual",
          to: r.to,
          type: "template",
          template,
          biz_opaque_callback_data: r.requestId,
        }),
      );
      if (status === 200) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { ok, failed };
}
