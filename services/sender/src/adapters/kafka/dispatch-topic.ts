import type { KafkaClient } from "@parley/kafka";
import type { DispatchTopicAdmin } from "../../sending/ports.js";

/** One admin connection, opened on first use (and again after a failed attempt). */
export function createDispatchTopicAdmin(kafka: KafkaClient, topic: string): DispatchTopicAdmin {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  const connect = async (): Promise<void> => {
    connected ??= admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    await connected;
  };
  return {
    async partitionCount() {
      await connect();
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      return metadata.topics[0]?.partitions.length;
    },
    async committed(groupId, partition) {
      await connect();
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const offset = offsets?.partitions.find((p) => p.partition === partition)?.offset;
      // "-1" (or absent): nothing committed yet, so every record of the partition comes again.
      return offset === undefined ? -1 : Number(offset);
    },
    async close() {
      if (connected) await admin.disconnect().catch(() => undefined);
    },
  };
}
