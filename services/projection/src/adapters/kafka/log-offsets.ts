import type { KafkaClient } from "@parley/kafka";
import { partitionKey, type LogOffsets } from "../../generations/ports.js";

/** What the log says about offsets, from Kafka's admin API (one admin client, connected on first use). */
export function createLogOffsets(kafka: KafkaClient): LogOffsets & { close(): Promise<void> } {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  const ready = () => (connected ??= admin.connect());
  return {
    async ends(topics) {
      await ready();
      const all = await Promise.all(
        topics.map(async (topic) =>
          (await admin.fetchTopicOffsets(topic)).map((p) => ({
            topic,
            partition: p.partition,
            low: Number(p.low),
            high: Number(p.high),
          })),
        ),
      );
      return all.flat();
    },
    async after(topics, at) {
      await ready();
      const found = new Map<string, number>();
      for (const topic of topics) {
        const [cut, ends] = await Promise.all([
          admin.fetchTopicOffsetsByTimestamp(topic, at.getTime() + 1),
          admin.fetchTopicOffsets(topic),
        ]);
        const high = new Map(ends.map((p) => [p.partition, Number(p.high)]));
        for (const p of cut) {
          const offset = Number(p.offset);
          // -1: no record at or after the instant; every record of the partition is earlier.
          found.set(
            partitionKey(topic, p.partition),
            offset < 0 ? (high.get(p.partition) ?? 0) : offset,
          );
        }
      }
      return found;
    },
    async committed(groupId, topics) {
      await ready();
      const found = new Map<string, number>();
      for (const { topic, partitions } of await admin.fetchOffsets({
        groupId,
        topics: [...topics],
      })) {
        for (const p of partitions) {
          const offset = Number(p.offset);
          if (offset >= 0) found.set(partitionKey(topic, p.partition), offset);
        }
      }
      return found;
    },
    async deleteGroup(groupId) {
      await ready();
      await admin.deleteGroups([groupId]).catch((error: unknown) => {
        // A group that never committed anything does not exist: nothing to delete.
        if (!/does not exist|GROUP_ID_NOT_FOUND/i.test(String(error))) throw error;
      });
    },
    async close() {
      if (connected !== undefined) await admin.disconnect();
    },
  };
}
