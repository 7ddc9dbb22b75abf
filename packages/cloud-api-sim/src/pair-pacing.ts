// Meta's pair rate limit, one business number to one user (reference §3.2), as two rules.
import type { PairPacingRule } from "./options.js";

export interface PairRule {
  readonly rule: PairPacingRule;
  /** Messages a burst may hold (Meta: 45). */
  readonly burst: number;
  /** The normal rate: one message per this many ms (Meta: 6 s). */
  readonly refillMs: number;
  /** How long a burst may last, from its first message (Meta: "45 messages within 6 s"). */
  readonly burstWindowMs: number;
}

/**
 * One pair's pacing, in three numbers. `tat` is when the pair's debt is repaid: every accepted
 * message pushes it one `refillMs` further from max(tat, now). Under "borrow", `burstEnd` and
 * `count` describe the burst in progress.
 */
export interface PairState {
  tat: number;
  burstEnd: number;
  count: number;
}

/**
 * Decides one send at `now` and, when it is allowed, records it in `state` (created when
 * `undefined` is passed; the caller keeps the returned object).
 *
 * - "borrow" (Meta's documented rule, the default): a send when the debt is repaid
 *   (`tat <= now`) starts a burst; up to `burst` messages may follow within `burstWindowMs` of
 *   its start, each borrowing one `refillMs`; after that nothing until the debt is repaid. A
 *   burst of 45 is followed by about 270 s of silence, a burst of 20 by about 2 minutes.
 * - "bucket": a token bucket of `burst` refilled one per `refillMs` (GCRA), which lets one
 *   message through every `refillMs` right after a burst: more lenient than Meta.
 */
export function admitPair(
  r: PairRule,
  state: PairState | undefined,
  now: number,
): PairState | undefined {
  if (state === undefined)
    return { tat: now + r.refillMs, burstEnd: now + r.burstWindowMs, count: 1 };
  if (r.rule === "bucket") {
    const base = state.tat < now ? now : state.tat;
    if (base - now > (r.burst - 1) * r.refillMs) return undefined;
    state.tat = base + r.refillMs;
    return state;
  }
  if (state.tat <= now) {
    state.tat = now + r.refillMs;
    state.burstEnd = now + r.burstWindowMs;
    state.count = 1;
    return state;
  }
  if (now < state.burstEnd && state.count < r.burst) {
    state.tat += r.refillMs;
    state.count++;
    return state;
  }
  return undefined;
}

/** A pair whose debt is repaid by `now` is the same as one never seen: it can be forgotten. */
export function pairIdle(state: PairState, now: number): boolean {
  return state.tat <= now;
}

/** The accepted sends (times in order) that `r` would have refused. */
export function overLimit(r: PairRule, times: readonly number[]): number[] {
  const over: number[] = [];
  let state: PairState | undefined;
  for (const t of times) {
    const next = admitPair(r, state, t);
    if (next === undefined) over.push(t);
    else state = next;
  }
  return over;
}
