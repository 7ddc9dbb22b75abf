import { NumberHold } from "../domain/backoff.js";
import { PairPacer } from "../domain/pair-pacing.js";
import { NumberRate } from "../domain/rate-limit.js";
import { onAbort, sleep } from "./abort-hub.js";
import { answered, StoppedError, UnansweredError } from "./sleep.js";

export interface LaneSettings {
  readonly mps: number;
  readonly pairPacing: { readonly burst: number; readonly refillMs: number };
}

export interface LaneTuning {
  readonly marginMs: number;
  readonly smoothingMs: number;
  /** How far ahead a slot may be reserved, so the checks before a call overlap the wait. */
  readonly leadMs: number;
  readonly maxPairBackoffMs: number;
  readonly maxNumberBackoffMs: number;
  /** Added to the rate margin on each 130429 episode, up to `maxMarginMs` (0: never widened). */
  readonly marginStepMs: number;
  readonly maxMarginMs: number;
  /** After this long with no 130429 a widened margin steps back toward `marginMs` (0: never). */
  readonly marginRelaxAfterMs: number;
  /** A lane unused this long reloads recent call times (another owner may have sent meanwhile). */
  readonly reseedAfterIdleMs: number;
  /**
   * How much later than its call instant another owner's send may have reached Meta, when a new
   * owner seeds a recipient's pacing debt from the attempt store (default 1 s, the burst guard).
   */
  readonly pairSeedTransitMs?: number;
  /**
   * How far ahead of the rate a number admits dispatches, as time at its cap: at most
   * `ceil(mps x admitAheadMs / 1,000)` (at least `admitFloor`) are between `admit` and their
   * release at once, the rest wait in arrival order before their first stage (default 0: no
   * bound). A backlog then waits as a queue entry, not as a handler holding its gate view,
   * timers and abort listeners for seconds (issue 31, ADR 0006 "Admission").
   */
  readonly admitAheadMs?: number;
  /** The least number of dispatches admitted at once, for low caps (default 8). */
  readonly admitFloor?: number;
  /**
   * How long a dispatch waits for the lane's reads of the attempt store (the rate seed, a
   * recipient's pacing seed) before it fails as an outage (retried; the next try reads again).
   * Every dispatch of the number waits for them: without a bound one reply lost on its way
   * stalled the number for good (default 10 s; 0: no bound).
   */
  readonly storeBoundMs?: number;
}

export interface LaneObserver {
  waited(kind: "pair" | "number" | "rate", ms: number): void;
  pausedChanged(number: string, paused: boolean): void;
  /** A whole-number hold began (`code`) or ended (`code` undefined; `ended` is the code it had). */
  holdChanged?(number: string, code: number | undefined, ended?: number): void;
}

/**
 * A reserved rate slot: call at or after `slotAt`; once the call is answered (or given up on),
 * `sent(calledAt, answeredAt)`; or `cancel()` if no call was made. `probe`: the one call a held
 * number lets through; its answer (`NumberLane.held` or `NumberLane.answered`) decides the hold.
 */
export interface Slot {
  readonly slotAt: number;
  readonly probe: boolean;
  sent(calledAt: number, answeredAt: number): void;
  cancel(): void;
}

export interface PauseInfo {
  readonly code: number;
  readonly since: number;
  readonly detail: string;
}

/** A waiter's answer when the number was paused while it queued for a slot. */
const PAUSED = -2;

/**
 * One business number's sending lane: the exact rate log, pair pacing per recipient, the
 * whole-number hold and the token pause. Callers for one recipient come one at a time
 * (the consumer keys by recipient); slots are granted first come, first served. A held lane
 * grants one probe slot at a time; a paused lane grants nothing: its callers are told at once,
 * and park their dispatches (`parking.ts`).
 */
export class NumberLane {
  readonly rate: NumberRate;
  readonly pacer: PairPacer;
  readonly hold: NumberHold;
  private waiters: { resolve: (slotAt: number, probe: boolean) => void }[] = [];
  /** Dispatches admitted and not yet released (`admit`). */
  private admittedCount = 0;
  /** Dispatches waiting for admission, first come first admitted. */
  private admitQueue: { admit: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pauseInfo: PauseInfo | undefined;
  private lastUsed: number;
  private marginChangedAt = Number.NEGATIVE_INFINITY;
  private seeding: Promise<void>;
  /** The seed that has answered, if it is the current one: nothing to wait for (no timer). */
  private seededOk: Promise<void> | undefined;
  /**
   * The last seed failed (its store was out): the next caller reads again rather than finding
   * the same rejection for good.
   */
  private seedFailed = false;
  /** When the lane last (re)read what other owners sent: recipients met since are seeded once. */
  private seededAt: number;
  private readonly seededPairs = new Set<string>();
  /** How far back another owner's sends to a recipient can still owe Meta a debt. */
  private readonly pairHorizonMs: number;
  /**
   * Until when a recipient met for the first time is read from the store: the latest call any
   * owner recorded on the number before the lane (re)read it, plus the horizon. -Infinity: no
   * call within the horizon, so every debt is this lane's own and no recipient is read.
   */
  private pairSeedUntil = Number.POSITIVE_INFINITY;

  constructor(
    readonly number: string,
    settings: LaneSettings,
    private readonly tuning: LaneTuning,
    private readonly clock: () => number,
    random: () => number,
    private readonly recentCalls: (number: string, sinceMs: number) => Promise<number[]>,
    private readonly observer: LaneObserver,
    /** Call instants of one pair since then (the attempt store), for the pacing seed; none: no seed. */
    private readonly pairCalls?: (
      number: string,
      recipient: string,
      sinceMs: number,
    ) => Promise<number[]>,
    /**
     * The latest call instant recorded on the number since then (the attempt store), read once
     * per (re)seed: with none, no recipient is read one by one. Unset: each recipient met within
     * the horizon is read.
     */
    private readonly latestCall?: (number: string, sinceMs: number) => Promise<number | undefined>,
  ) {
    this.rate = new NumberRate({
      mps: settings.mps,
      marginMs: tuning.marginMs,
      smoothingMs: tuning.smoothingMs,
    });
    this.pacer = new PairPacer({ ...settings.pairPacing, maxBackoffMs: tuning.maxPairBackoffMs });
    this.hold = new NumberHold(tuning.maxNumberBackoffMs, random);
    this.lastUsed = clock();
    this.seededAt = this.lastUsed;
    this.pairHorizonMs =
      settings.pairPacing.burst * settings.pairPacing.refillMs +
      settings.pairPacing.refillMs +
      (tuning.pairSeedTransitMs ?? 1_000);
    this.seeding = this.startSeed();
  }

  get paused(): PauseInfo | undefined {
    return this.pauseInfo;
  }

  /** The code holding the whole number (130429, 4, 80007, 131057), or undefined. */
  get heldBy(): number | undefined {
    return this.hold.code;
  }

  /** Dispatches admitted and not yet released, and those waiting for admission. */
  get admission(): { readonly admitted: number; readonly waiting: number; readonly bound: number } {
    return {
      admitted: this.admittedCount,
      waiting: this.admitQueue.length,
      bound: this.admitBound(),
    };
  }

  /** Infinity when admission is unbounded (admitAheadMs 0). */
  private admitBound(): number {
    const ahead = this.tuning.admitAheadMs ?? 0;
    if (ahead <= 0) return Number.POSITIVE_INFINITY;
    return Math.max(this.tuning.admitFloor ?? 8, Math.ceil((this.rate.mps * ahead) / 1_000));
  }

  /**
   * Waits until the number admits one more dispatch (about `admitAheadMs` of its cap ahead of
   * the rate), in arrival order; resolves to the release, which is idempotent. A paused number
   * admits at once (its dispatches park without a slot); a stop (`signal`) while waiting throws
   * StoppedError and admits nothing.
   */
  async admit(signal: AbortSignal): Promise<() => void> {
    if (
      (this.admitQueue.length === 0 && this.admittedCount < this.admitBound()) ||
      this.pauseInfo !== undefined
    ) {
      this.admittedCount++;
      return this.releaseOf();
    }
    // Counted by `pumpAdmissions` when its turn comes, before its handler resumes.
    if (signal.aborted) throw new StoppedError();
    await new Promise<void>((resolve, reject) => {
      let stop = (): void => undefined;
      const entry = {
        admit: (): void => {
          stop();
          resolve();
        },
      };
      this.admitQueue.push(entry);
      stop = onAbort(signal, () => {
        this.admitQueue = this.admitQueue.filter((e) => e !== entry);
        reject(new StoppedError());
      });
    });
    return this.releaseOf();
  }

  /** One admission's release: once, it lets the next waiting dispatch in. */
  private releaseOf(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admittedCount--;
      this.pumpAdmissions();
    };
  }

  /** Admits waiting dispatches, in order, while the bound allows (all of them while paused). */
  private pumpAdmissions(): void {
    while (this.admitQueue.length > 0) {
      if (this.pauseInfo === undefined && this.admittedCount >= this.admitBound()) return;
      const next = this.admitQueue.shift();
      // Counted here, before its handler resumes, so no later arrival overtakes it.
      this.admittedCount++;
      next?.admit();
    }
  }

  /** The number's cap in messages per second now. */
  get mps(): number {
    return this.rate.mps;
  }

  /** Meta's throughput for the number changed: the cap changes now, exactly (no restart). */
  setMps(mps: number): void {
    if (mps === this.rate.mps) return;
    this.rate.setMps(mps);
    this.pump();
    this.pumpAdmissions();
  }

  /**
   * Starts a seed. Nobody may await it for a while (a lane made for its cap or its pause before
   * its first dispatch), so its failure is noted here rather than left unhandled (which would
   * end the process); the callers that need it (`seeded`) see the store's error and read again.
   */
  private startSeed(): Promise<void> {
    const seeding = this.seed();
    seeding.then(
      () => {
        this.seededOk = seeding;
      },
      () => {
        if (this.seeding === seeding) this.seedFailed = true;
      },
    );
    return seeding;
  }

  /**
   * Waits for the seed, until the stop (`signal`) and at most `storeBoundMs`; after a failed or
   * unanswered one, reads again (the store's error, or UnansweredError, reaches the caller).
   */
  private async seeded(signal: AbortSignal): Promise<void> {
    if (this.seedFailed) {
      this.seedFailed = false;
      this.seeding = this.startSeed();
    }
    const seeding = this.seeding;
    if (this.seededOk === seeding) return;
    try {
      await answered(seeding, `the rate seed of ${this.number}`, this.storeBoundMs, signal);
    } catch (error) {
      // That read may never answer: the next caller starts another.
      if (error instanceof UnansweredError && this.seeding === seeding) this.seedFailed = true;
      throw error;
    }
  }

  private get storeBoundMs(): number {
    return this.tuning.storeBoundMs ?? 10_000;
  }

  /** A new owner honours the window: calls recorded by anyone in the last window count here. */
  private async seed(): Promise<void> {
    this.seededAt = this.clock();
    this.seededPairs.clear();
    this.pairSeedUntil = Number.POSITIVE_INFINITY;
    const since = this.clock() - 1_000 - this.rate.marginMs;
    const probe =
      this.pairCalls === undefined
        ? undefined
        : this.latestCall?.(this.number, this.seededAt - this.pairHorizonMs);
    // Awaited below; a failure meanwhile is not left unhandled.
    probe?.catch(() => undefined);
    const times = await this.recentCalls(this.number, since);
    this.rate.seed(times, this.clock());
    if (probe === undefined) return;
    const latest = await probe;
    this.pairSeedUntil =
      latest === undefined ? Number.NEGATIVE_INFINITY : latest + this.pairHorizonMs;
  }

  /**
   * Waits until this recipient's pacing allows a send: true, or false at once while the number
   * is paused (its dispatches are parked, not held here).
   */
  async recipientReady(recipient: string, signal: AbortSignal): Promise<boolean> {
    await this.seeded(signal);
    await this.seedPair(recipient, signal);
    for (;;) {
      if (this.pauseInfo) return false;
      const now = this.clock();
      const pairAt = this.pacer.nextAt(recipient, now);
      if (pairAt <= now) return true;
      this.observer.waited("pair", pairAt - now);
      if (!(await sleep(pairAt - now, signal))) throw new StoppedError();
    }
  }

  /**
   * Waits for this recipient's pacing, the number's back-off and a rate slot; undefined when the
   * number is paused meanwhile (the caller parks the dispatch).
   */
  async turn(recipient: string, signal: AbortSignal): Promise<Slot | undefined> {
    let now = this.clock();
    if (now - this.lastUsed > this.tuning.reseedAfterIdleMs && this.waiters.length === 0) {
      this.seeding = this.startSeed();
    }
    this.lastUsed = now;
    this.relaxMargin(now);
    await this.seeded(signal);
    await this.seedPair(recipient, signal);
    /** Set when a slot came after the recipient's burst closed: the debt must be repaid first. */
    let notBefore = now;
    for (;;) {
      now = this.clock();
      const pairAt = Math.max(this.pacer.nextAt(recipient, now), notBefore);
      if (pairAt > now) {
        this.observer.waited("pair", pairAt - now);
        if (!(await sleep(pairAt - now, signal))) throw new StoppedError();
        continue;
      }
      if (this.pauseInfo) return undefined;
      // A stop given already wakes no waiter (onAbort calls nothing then): without this check a
      // dispatch that came here after the stop, with no slot free, waited for ever.
      if (signal.aborted) throw new StoppedError();
      const started = now;
      const [slotAt, probe] = await new Promise<[number, boolean]>((resolve) => {
        const waiter = {
          resolve: (at: number, probe: boolean): void => {
            resolve([at, probe]);
          },
        };
        this.waiters.push(waiter);
        const stop = onAbort(signal, () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve([-1, false]);
        });
        waiter.resolve = (at, probe) => {
          stop();
          resolve([at, probe]);
        };
        this.pump();
      });
      if (slotAt === PAUSED) return undefined;
      if (slotAt < 0) throw new StoppedError();
      this.observer.waited("rate", Math.max(0, slotAt - started));
      // Pacing or a pause may have changed while queued (another recipient's answer), and a
      // burst's window may close before the slot comes: pacing is judged at the call's instant.
      now = this.clock();
      const callAt = Math.max(now, slotAt);
      const pairAtCall = this.pacer.nextAt(recipient, callAt);
      if (this.paused !== undefined || pairAtCall > callAt) {
        notBefore = pairAtCall;
        this.rate.cancel();
        if (probe) this.hold.probeCancelled();
        this.pump();
        continue;
      }
      this.pacer.take(recipient, callAt);
      let settled = false;
      return {
        slotAt,
        probe,
        sent: (calledAt, answeredAt) => {
          if (settled) return;
          settled = true;
          this.pacer.sent(recipient, this.rate.complete(calledAt, answeredAt));
          this.pump();
        },
        cancel: () => {
          if (settled) return;
          settled = true;
          this.rate.cancel();
          this.pacer.giveBack(recipient, this.clock());
          if (probe) this.hold.probeCancelled();
          this.pump();
        },
      };
    }
  }

  /**
   * The first time a recipient is met after the lane (re)read the store, within the horizon of
   * a debt: the sends another owner made to it become its debt here (ADR 0006, "Pair pacing"),
   * so a new owner (a rebalance, a restart) never sends to it sooner than Meta allows. Past the
   * horizon every send that can still owe was made by this lane: no read. When the number had
   * no call at all within the horizon before the lane (re)read the store (`latestCall`: a first
   * start, an idle number, each bench case), no recipient can owe another owner's debt and none
   * is read; after one, recipients are read until its debts have run out.
   */
  private async seedPair(recipient: string, signal: AbortSignal): Promise<void> {
    if (this.pairCalls === undefined) return;
    const now = this.clock();
    if (now - this.seededAt > this.pairHorizonMs || now > this.pairSeedUntil) {
      this.seededPairs.clear();
      return;
    }
    if (this.seededPairs.has(recipient)) return;
    this.seededPairs.add(recipient);
    let times: number[];
    try {
      times = await answered(
        this.pairCalls(this.number, recipient, now - this.pairHorizonMs),
        `the pacing seed of a recipient of ${this.number}`,
        this.storeBoundMs,
        signal,
      );
    } catch (error) {
      this.seededPairs.delete(recipient);
      throw error;
    }
    this.pacer.seed(recipient, times, this.clock(), this.tuning.pairSeedTransitMs ?? 1_000);
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiters.length > 0) {
      const now = this.clock();
      if (this.pauseInfo) return;
      const admission = this.hold.admit(now);
      if (admission.kind === "wait") {
        this.observer.waited("number", admission.untilMs - now);
        this.timer = setTimeout(() => {
          this.pump();
        }, admission.untilMs - now);
        return;
      }
      // A probe is out: its answer (held or answered) pumps again.
      if (admission.kind === "blocked") return;
      const r = this.rate.tryReserve(now, this.tuning.leadMs);
      if ("slotAt" in r) {
        const probe = admission.kind === "probe";
        if (probe) this.hold.probeStarted();
        this.waiters.shift()?.resolve(r.slotAt, probe);
        continue;
      }
      if ("retryAt" in r) {
        this.timer = setTimeout(
          () => {
            this.pump();
          },
          Math.max(1, r.retryAt - now),
        );
      }
      return; // blocked: a completion or cancellation pumps again
    }
  }

  /** One step back toward the configured margin per quiet spell since the last widening or step. */
  private relaxMargin(now: number): void {
    if (this.tuning.marginRelaxAfterMs <= 0 || this.rate.marginMs <= this.tuning.marginMs) return;
    if (now - this.marginChangedAt < this.tuning.marginRelaxAfterMs) return;
    this.rate.narrowMargin(this.tuning.marginStepMs, this.tuning.marginMs);
    this.marginChangedAt = now;
  }

  /**
   * A whole-number refusal (130429, 4, 80007, 131057) of the call made at `calledAt`: the number
   * holds, then probes. 130429 also widens the rate margin.
   */
  held(code: number, calledAt: number): void {
    const now = this.clock();
    if (code === 130429 && calledAt >= this.marginChangedAt) {
      // Meta counted more than the cap in a second where our causal log counted at most the
      // cap: something else sends on the number. One widening per episode, bounded.
      this.rate.widenMargin(this.tuning.marginStepMs, this.tuning.maxMarginMs);
      this.marginChangedAt = now;
    }
    const was = this.hold.code;
    this.hold.refused(code, now, calledAt);
    if (was === undefined) this.observer.holdChanged?.(this.number, code);
    this.pump();
  }

  /** Graph answered the call made at `calledAt` with anything but a hold code: a hold ends. */
  answered(calledAt: number): void {
    const ended = this.hold.answered(calledAt);
    if (ended !== undefined) {
      this.observer.holdChanged?.(this.number, undefined, ended);
      this.pump();
    }
  }

  accepted(recipient: string, calledAt: number): void {
    this.answered(calledAt);
    this.pacer.accepted(recipient);
  }

  pace(recipient: string): void {
    this.pacer.paced(recipient, this.clock());
  }

  /** Stops the number: callers waiting for a slot get none (they park their dispatches). */
  pause(info: PauseInfo): void {
    if (this.pauseInfo) return;
    this.pauseInfo = info;
    this.observer.pausedChanged(this.number, true);
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.resolve(PAUSED, false);
    // Those waiting for admission go on too: each finds the pause and parks.
    this.pumpAdmissions();
  }

  resume(): void {
    if (!this.pauseInfo) return;
    this.pauseInfo = undefined;
    this.observer.pausedChanged(this.number, false);
    this.pump();
  }

  sweep(): void {
    this.pacer.sweep(this.clock());
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
