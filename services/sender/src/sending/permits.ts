/**
 * A first-come, first-served count of Graph calls in flight, as many as the keep-alive pool has
 * sockets. A call takes a permit after its rate slot and just before it starts, so it goes out
 * on a free socket at once: the instant the rate log records is the instant the request leaves,
 * not the moment it joined the HTTP client's queue (a queued request would reach Meta later and
 * in a bunch with others, which is how a receiver counts more than the cap in one second).
 */
export class CallPermits {
  private free: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`size must be a positive integer, got ${size}`);
    this.free = size;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get inUse(): number {
    return this.size - this.free;
  }

  /** Resolves with a release function once a permit is free; false when `signal` aborted first. */
  async acquire(signal: AbortSignal): Promise<(() => void) | false> {
    if (signal.aborted) return false;
    if (this.free > 0 && this.waiters.length === 0) {
      this.free--;
      return this.releaser();
    }
    const granted = await new Promise<boolean>((resolve) => {
      const waiter = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      this.waiters.push(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return granted ? this.releaser() : false;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Handed straight to the next waiter: the count never dips, so nobody overtakes the queue.
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    };
  }
}
