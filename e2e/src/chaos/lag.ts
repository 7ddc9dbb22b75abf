// Consumer lag of a group, as an operator's dashboard counts it: records behind each partition's
// end, less those a transactional consumer lists as finished above its committed offset.
import { decodeCompleted, type KafkaClient } from "@parley/kafka";

export type Admin = ReturnType<KafkaClient["admin"]>;

export interface GroupTopics {
  readonly group: string;
  readonly topics: readonly string[];
}

export async function lagOf(admin: Admin, groups: readonly GroupTopics[]): Promise<number> {
  let lag = 0;
  const ends = new Map<string, Map<number, number>>();
  for (const { group, topics } of groups) {
    for (const t of topics)
      if (!ends.has(t))
        ends.set(
          t,
          new Map((await admin.fetchTopicOffsets(t)).map((p) => [p.partition, Number(p.high)])),
        );
    for (const t of await admin.fetchOffsets({ groupId: group, topics: [...topics] }))
      for (const p of t.partitions) {
        const end = ends.get(t.topic)?.get(p.partition) ?? 0;
        const committed = Number(p.offset) < 0 ? 0 : Number(p.offset);
        const finishedAbove =
          Number(p.offset) < 0
            ? 0
            : decodeCompleted(BigInt(p.offset), p.metadata?.split("~")[0]).length;
        lag += Math.max(0, end - committed - finishedAbove);
      }
  }
  return lag;
}
