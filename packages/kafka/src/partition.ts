import kafkajs from "kafkajs";

const { Partitioners } = kafkajs;

/**
 * The partition a keyed record lands on in a topic of `partitions` partitions: the same answer
 * every producer Parley creates gives (kafkajs's default partitioner, murmur2 like the Java
 * client), so a consumer can tell in advance which keys will share a partition.
 */
export function partitionOfKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError(
      `partitionOfKey: partitions must be a positive integer, got ${partitions}`,
    );
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  return Partitioners.DefaultPartitioner()({
    topic: "",
    partitionMetadata,
    message: { key, value: null },
  });
}
