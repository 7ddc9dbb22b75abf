/**
 * Whether a number's records share a dispatch partition with another number: where Parley's
 * producers put each number of `known` (computed up front, again whenever the partition count
 * changes), and where each number's records were seen to come from (a number outside `known`, or
 * a topic grown since the count was read).
 */
export function sharesPartition(
  known: () => readonly string[],
  partitions: () => number,
  partitionOfKey: (key: string, partitions: number) => number,
): (number: string, partition: number) => boolean {
  let count = 0;
  let on = new Map<number, Set<string>>();
  const place = (number: string, partition: number): void => {
    const numbers = on.get(partition) ?? new Set<string>();
    numbers.add(number);
    on.set(partition, numbers);
  };
  return (number, partition) => {
    if (count !== partitions()) {
      count = partitions();
      on = new Map();
      for (const n of known()) place(n, partitionOfKey(n, count));
    }
    place(number, partition);
    return (on.get(partition)?.size ?? 0) > 1;
  };
}
