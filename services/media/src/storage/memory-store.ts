import { Readable } from "node:stream";
import { checkKey, ObjectNotFoundError, type ObjectStore } from "./port.js";

/** The in-memory fake of the ObjectStore port (held to the same contract suite as the adapters). */
export function createMemoryObjectStore(): ObjectStore & { readonly size: () => number } {
  const objects = new Map<string, Buffer>();
  return {
    name: "memory",
    size: () => objects.size,
    async put(key, body) {
      await Promise.resolve(checkKey(key));
      const parts: Buffer[] = [];
      for await (const chunk of body) parts.push(Buffer.from(chunk as Uint8Array));
      const data = Buffer.concat(parts);
      objects.set(key, data);
      return data.length;
    },
    async get(key, range) {
      await Promise.resolve(checkKey(key));
      const data = objects.get(key);
      if (data === undefined) throw new ObjectNotFoundError(key);
      const slice = range === undefined ? data : data.subarray(range.start, range.end + 1);
      return Readable.from([Buffer.from(slice)]);
    },
    async head(key) {
      await Promise.resolve(checkKey(key));
      return objects.get(key)?.length;
    },
    async delete(key) {
      await Promise.resolve(checkKey(key));
      objects.delete(key);
    },
    async *list(prefix) {
      await Promise.resolve();
      for (const key of [...objects.keys()].sort()) if (key.startsWith(prefix)) yield key;
    },
  };
}
