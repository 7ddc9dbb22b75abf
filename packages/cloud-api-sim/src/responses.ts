// Graph answers: Meta's headers on every answer, error bodies, rejections counted per number.
import { graphError, type SimError } from "./graph-errors.js";
import type { LatencyDistribution } from "./options.js";
import { maskDigits, trimFront, type Engine, type NumberState } from "./state.js";
import type { SimResponse } from "./types.js";

const JSON_CONTENT_TYPE = "application/json; charset=UTF-8";

export interface Responder {
  answer(
    status: number,
    body: unknown,
    version: string,
    extra?: Readonly<Record<string, string>>,
  ): SimResponse;
  /** `answer` for a body already serialised (the hot send path builds its JSON as text). */
  answerText(
    status: number,
    text: string,
    version: string,
    extra?: Readonly<Record<string, string>>,
  ): SimResponse;
  fail(e: SimError, version: string, extra?: Readonly<Record<string, string>>): SimResponse;
  /** A Graph error for `code` (graphError's options), answered in `version`. */
  error(
    code: number,
    version: string,
    o?: Parameters<typeof graphError>[2],
    extra?: Readonly<Record<string, string>>,
  ): SimResponse;
  /** A send refused synchronously: counted per number and listed in `rejections()`. */
  reject(
    pn: NumberState,
    code: number,
    to: string | undefined,
    o: Parameters<typeof graphError>[2],
    version: string,
    at?: number,
    extra?: Readonly<Record<string, string>>,
  ): SimResponse;
  /** The latency drawn for the answer being built (plus a scripted delay). */
  latency(): number;
  draw(l: LatencyDistribution): number;
}

export function createResponder(engine: Engine): Responder {
  const { rng } = engine;

  function draw(l: LatencyDistribution): number {
    switch (l.kind) {
      case "none":
        return 0;
      case "fixed":
        return l.ms;
      case "uniform":
        return l.minMs + rng.faults.next() * (l.maxMs - l.minMs);
      case "exponential":
        return Math.min(l.maxMs, -Math.log(1 - rng.faults.next()) * l.meanMs);
      case "normal": {
        const u = 1 - rng.faults.next();
        const v = rng.faults.next();
        const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        return Math.max(0, Math.min(l.maxMs, l.meanMs + z * l.stdDevMs));
      }
    }
  }

  function latency(): number {
    const drawn = draw(engine.faults.latency);
    return engine.extraDelayMs > 0 ? engine.extraDelayMs + drawn : drawn;
  }

  function answerText(
    status: number,
    text: string,
    version: string,
    extra?: Readonly<Record<string, string>>,
  ): SimResponse {
    // An object literal, not spreads: spreading a constant header object into a new literal
    // costs microseconds per call in V8, more than the rest of a send.
    const ids = rng.headers.token(34); // both opaque ids from one draw
    const headers: Record<string, string> = {
      "content-type": JSON_CONTENT_TYPE,
      "x-fb-trace-id": ids.slice(0, 11),
      "x-fb-request-id": ids.slice(11),
      "x-fb-rev": "1019283746",
      "facebook-api-version": version,
    };
    if (extra !== undefined) for (const k in extra) headers[k] = extra[k] as string;
    return { kind: "answer", status, headers, body: text, delayMs: latency() };
  }

  function answer(
    status: number,
    body: unknown,
    version: string,
    extra?: Readonly<Record<string, string>>,
  ): SimResponse {
    return answerText(status, JSON.stringify(body), version, extra);
  }

  function fail(
    e: SimError,
    version: string,
    extra?: Readonly<Record<string, string>>,
  ): SimResponse {
    const headers: Record<string, string> = { ...extra };
    if (e.status === 401) headers["www-authenticate"] = 'OAuth "Facebook Platform" "invalid_token"';
    return answer(e.status, e.body, version, headers);
  }

  return {
    answer,
    answerText,
    fail,
    error: (code, version, o = {}, extra) => fail(graphError(code, rng.ids, o), version, extra),
    reject(pn, code, to, o, version, at = engine.clock.now(), extra) {
      pn.rejectedByCode.set(code, (pn.rejectedByCode.get(code) ?? 0) + 1);
      engine.rejected.push({
        at,
        phoneNumberId: pn.id,
        code,
        to: to === undefined ? undefined : maskDigits(to),
      });
      trimFront(engine.rejected, 10_000);
      return fail(graphError(code, rng.ids, o), version, extra);
    },
    latency,
    draw,
  };
}
