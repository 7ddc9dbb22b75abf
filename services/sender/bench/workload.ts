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

export function requests(
  number: string,
  count: number,
  recipients: number,
  tag: string,
): Request[] {
  const out: Request[] = [];
  for (let i = 0; i < count; i++) {
    const r = i % recipients;
    out.push({
      number,
      to: `1${number.slice(-4)}${String(r).padStart(6, "0")}`,
      requestId: `${tag}-${number.slice(-4)}-${r}-${Math.floor(i / recipients)}`,
    });
  }
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
