import { onAbort } from "./abort-hub.js";

/**
 * A count of Graph calls in flight, as many as the keep-alive pool has sockets, shared by every
 * business number. A call takes a permit after its rate slot and just before it starts, so it
 * goes out on a free socket at once: the instant the rate log records is the instant the request
 * leaves, not the moment it joined the HTTP client's queue (a queued request would reach Meta
 * later and in a bunch with others, which is how a receiver counts more than the cap in one
 * second).
 *
 * Waiters queue per key (the business number), first come, first served within a key, and freed
 * permits go round the keys in turn: a number with a deep backlog cannot hold the sockets while
 * a quieter number's calls, already inside their own cap, wait behind it.
 */
export class CallPermits {
  private free: number;
  /** Keys in the order they are served next (a served key with more waiters moves to the end). */
  private readonly queues = new Map<string, (() => void)[]>();
  private queued = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`size must be a positive integer, got ${size}`);
    this.free = size;
  }

  get waiting(): number {
    return this.queued;
  }

  get inUse(): number {
    return this.size - this.free;
  }

  /** Resolves with a release function once a permit is free; false when `signal` aborted first. */
  async acquire(signal: AbortSignal, key = ""): Promise<(() => void) | false> {
    if (signal.aborted) return false;
    if (this.free > 0 && this.queued === 0) {
      this.free--;
      return this.releaser();
    }
    const granted = await new Promise<boolean>((resolve) => {
      let stop = (): void => undefined;
      const waiter = (): void => {
        stop();
        resolve(true);
      };
      const aborted = (): void => {
        const queue = this.queues.get(key);
        const i = queue ? queue.indexOf(waiter) : -1;
        if (queue && i >= 0) {
          queue.splice(i, 1);
          this.queued--;
          if (queue.length === 0) this.queues.delete(key);
        }
        resolve(false);
      };
      const queue = this.queues.get(key);
      if (queue) queue.push(waiter);
      else this.queues.set(key, [waiter]);
      this.queued++;
      stop = onAbort(signal, aborted);
    });
    return granted ? this.releaser() : false;
  }

  /**
   * The first waiter of the key whose turn it is; that key goes to the back of the round (a key
   * is in the round only while it has waiters).
   */
  private next(): (() => void) | undefined {
    const turn = this.queues.entries().next();
    if (turn.done) return undefined;
    const [key, queue] = turn.value;
    const waiter = queue.shift();
    this.queues.delete(key);
    if (queue.length > 0) this.queues.set(key, queue);
    this.queued--;
    return waiter;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Handed straight to the next waiter: the count never dips, so nobody overtakes the queue.
      const next = this.next();
      if (next) next();
      else this.free++;
    };
  }
}
