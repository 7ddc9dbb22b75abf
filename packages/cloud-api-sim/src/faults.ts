// Fault injection: scripted faults for the next matching requests, and random ones by rate.
import type { ScriptedFault } from "./options.js";
import type { Responder } from "./responses.js";
import type { FailAsync } from "./send.js";
import type { Engine } from "./state.js";
import type { SimRequest, SimResponse } from "./types.js";

/** The digits of a send's `to` (for faults scripted for one recipient), without a full parse. */
function recipientOf(req: SimRequest): string | undefined {
  const m = /"to"\s*:\s*"([^"]*)"/.exec(req.body.toString("utf8"));
  return m?.[1]?.replace(/\D/g, "");
}

function pickScripted(
  engine: Engine,
  endpoint: string,
  req: SimRequest,
): ScriptedFault | undefined {
  const scripted = engine.scripted;
  if (scripted.length === 0) return undefined;
  const to = scripted.some((s) => s.to !== undefined) ? recipientOf(req) : undefined;
  const i = scripted.findIndex(
    (s) => (s.endpoint === "any" || s.endpoint === endpoint) && (s.to === undefined || s.to === to),
  );
  if (i < 0) return undefined;
  const [s] = scripted.splice(i, 1);
  return s?.fault;
}

/**
 * The fault for this request: an answer to give instead of handling it, "after-accept" (handle
 * a send, never answer), a send to fail by webhook, or undefined (handle it normally; a
 * scripted `delay` sets the engine's extra delay).
 */
export function injectFault(
  engine: Engine,
  r: Responder,
  endpoint: string,
  version: string,
  req: SimRequest,
): SimResponse | "after-accept" | FailAsync | undefined {
  const s = pickScripted(engine, endpoint, req);
  if (s) {
    switch (s.kind) {
      case "error":
        return r.error(s.code, version, s.http !== undefined ? { http: s.http } : {});
      case "raw":
        return {
          kind: "answer",
          status: s.status,
          headers: { "content-type": "text/html" },
          body: s.body,
          delayMs: r.latency(),
        };
      case "timeout":
        return { kind: "hang", hangMs: engine.faults.hangMs };
      case "timeout-after-accept":
        return "after-accept";
      case "delay":
        engine.extraDelayMs = Math.max(0, s.ms);
        return undefined;
      case "fail-async":
        return endpoint === "messages" ? s : undefined;
      case "cut":
        return undefined; // only media downloads are cut (downloadFault)
    }
  }
  const { faults, rng } = engine;
  if (rng.faults.chance(faults.timeoutRate)) return { kind: "hang", hangMs: faults.hangMs };
  if (rng.faults.chance(faults.serverErrorRate)) {
    const code = [131000, 131016, 2][rng.faults.int(0, 2)] ?? 131000;
    return r.error(code, version);
  }
  if (endpoint === "messages" && rng.faults.chance(faults.timeoutAfterAcceptRate))
    return "after-accept";
  return undefined;
}

/**
 * The fault for a media download (endpoint "download"): a scripted one (a cut body, an error
 * page, a hang), else the random server-error and timeout rates as the CDN shows them (a plain
 * 5xx page, not a Graph error body), else undefined.
 */
export function downloadFault(
  engine: Engine,
  r: Responder,
  req: SimRequest,
):
  | SimResponse
  | { readonly kind: "cut"; readonly afterBytes: number; readonly expireUrl: boolean }
  | undefined {
  const s = pickScripted(engine, "download", req);
  if (s) {
    switch (s.kind) {
      case "cut":
        return {
          kind: "cut",
          afterBytes: Math.max(0, s.afterBytes),
          expireUrl: s.expireUrl ?? false,
        };
      case "raw":
        return {
          kind: "answer",
          status: s.status,
          headers: { "content-type": "text/html" },
          body: s.body,
          delayMs: r.latency(),
        };
      case "error":
        return {
          kind: "answer",
          status: s.http ?? 500,
          headers: { "content-type": "text/plain" },
          body: "Internal Server Error",
          delayMs: r.latency(),
        };
      case "timeout":
        return { kind: "hang", hangMs: engine.faults.hangMs };
      case "delay":
        engine.extraDelayMs = Math.max(0, s.ms);
        return undefined;
      default:
        return undefined;
    }
  }
  const { faults, rng } = engine;
  if (rng.faults.chance(faults.timeoutRate)) return { kind: "hang", hangMs: faults.hangMs };
  if (rng.faults.chance(faults.serverErrorRate))
    return {
      kind: "answer",
      status: 503,
      headers: { "content-type": "text/plain" },
      body: "Service Unavailable",
      delayMs: r.latency(),
    };
  return undefined;
}
