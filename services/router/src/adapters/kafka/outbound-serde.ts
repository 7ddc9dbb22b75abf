import type { TopicSpec } from "@parley/contracts";
import type { Serde } from "@parley/kafka";

/**
 * The serde, with the first use of each schema done alone. The registry client caches a
 * schema's compiled validator only once built, so a burst of records with a schema not yet seen
 * (a consumer's first fetch: hundreds at once) compiled it once per record: seconds of CPU and
 * hundreds of megabytes. Here the first decode of each registry id, and the first encode for
 * each subject, runs by itself; the others wait for it, then find the schema in the cache.
 */
export function firstUseAlone(serde: Serde): Serde {
  const gate = <T>(): ((key: string, work: () => Promise<T>) => Promise<T>) => {
    const gates = new Map<string, Promise<void> | "warm">();
    return (key, work) => {
      const current = gates.get(key);
      if (current === "warm") return work();
      if (current !== undefined) return current.then(work, work);
      const first = work();
      gates.set(
        key,
        first.then(
          () => {
            gates.set(key, "warm");
          },
          () => {
            // A failed first use (a bad record, the registry down): the next one goes alone.
            gates.delete(key);
          },
        ),
      );
      return first;
    };
  };
  const decodeGate = gate<unknown>();
  const encodeGate = gate<Buffer>();
  return {
    encode: (topic: TopicSpec, event: unknown) =>
      encodeGate(topic.subject, () => serde.encode(topic, event)),
    decode: (topic: TopicSpec, bytes: Buffer | null) => {
      // Confluent wire format: magic byte 0, then the schema's registry id (4 bytes).
      if (bytes === null || bytes.length < 5 || bytes[0] !== 0) return serde.decode(topic, bytes);
      return decodeGate(String(bytes.readInt32BE(1)), () => serde.decode(topic, bytes));
    },
    register: (topic: TopicSpec) => serde.register(topic),
  };
}
