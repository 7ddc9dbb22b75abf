/**
 * One "abort" listener per signal, however many waits listen to it. Every in-flight dispatch
 * handler waits on the consumer's one stopping signal (for its pacing, its slot, its socket, its
 * slot's instant), and Node's EventTarget walks its whole listener list on each add and remove
 * (to find a duplicate or the listener): with a thousand handlers waiting, each wait cost tens
 * of microseconds (issue 31). Here a wait joins a set: O(1) to join and to leave.
 */
const hubs = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fn` once when `signal` aborts; the returned function stops listening (idempotent). As
 * with addEventListener, nothing is called for a signal already aborted: check `aborted` first.
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) return () => undefined;
  let listeners = hubs.get(signal);
  if (listeners === undefined) {
    const created = new Set<() => void>();
    hubs.set(signal, created);
    signal.addEventListener(
      "abort",
      () => {
        hubs.delete(signal);
        for (const listener of created) listener();
        created.clear();
      },
      { once: true },
    );
    listeners = created;
  }
  const set = listeners;
  // A wrapper of its own: the same `fn` may listen twice and stop twice.
  const entry = (): void => {
    fn();
  };
  set.add(entry);
  return () => {
    set.delete(entry);
  };
}

/**
 * `sleep` from @parley/errors on the hub: true after `ms`, false as soon as `signal` aborts (at
 * once when it has already).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let stop = (): void => undefined;
    const timer = setTimeout(
      () => {
        stop();
        resolve(true);
      },
      Math.max(0, ms),
    );
    if (signal !== undefined)
      stop = onAbort(signal, () => {
        clearTimeout(timer);
        resolve(false);
      });
  });
}
