/**
 * One holder per key at a time, first come first served: `run(key, work)` starts `work` once every
 * earlier work for the same key has settled (resolved or rejected). Keys never wait on each other.
 */
export function createKeyedLock(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key) ?? Promise.resolve();
    const current = previous.then(work);
    const settled = current.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, settled);
    try {
      return await current;
    } finally {
      if (tails.get(key) === settled) tails.delete(key);
    }
  };
}
