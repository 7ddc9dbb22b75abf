import type { KafkaClient, KafkaObserver } from "@parley/kafka";
import type { Metrics } from "@parley/telemetry";

type Consumer = Parameters<NonNullable<KafkaObserver["consumerCreated"]>>[1];
type Admin = ReturnType<KafkaClient["admin"]>;

export interface KafkaMetricsOptions {
  /** Bounds one read of the groups' offsets, so a scrape never waits on a dead broker for long. */
  readonly timeoutMs?: number;
  /** Reads closer together than this reuse the last one (several scrapers, or a scrape storm). */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

export interface KafkaMetrics {
  /** Given to createKafka: counts dead letters and follows each consumer's assignment. */
  readonly observer: KafkaObserver;
  /** The client the lag is read with (the one `observer` was given to). */
  attach(kafka: KafkaClient): void;
  /** Reads the lag of every partition this process's consumers own; call before each exposition. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The Kafka series every service gets from the chassis:
 * - `parley_kafka_dead_letters_total{group, topic, reason}`: records a consumer sent to its
 *   dead-letter topic, by the error's class;
 * - `parley_kafka_consumer_lag_records{group, topic, partition}`: for each partition a consumer
 *   of this process owns (its assignment at the last group join), the records between the
 *   group's committed offset and the partition's end, read from Kafka at each scrape, so a
 *   stuck consumer's lag keeps growing where an in-process estimate would freeze;
 * - `parley_kafka_offset_reads_failed_total`: reads of those offsets that failed (no lag series
 *   until the next one succeeds);
 * - `parley_kafka_requests_total{api}`: requests sent to the brokers by the client's producers,
 *   consumers and admins, by Kafka API (`Produce`, `Fetch`...): the round trips per message the
 *   benchmarks report.
 */
export function createKafkaMetrics(
  metrics: Metrics,
  { timeoutMs = 2_000, minIntervalMs = 1_000, now = Date.now }: KafkaMetricsOptions = {},
): KafkaMetrics {
  const deadLetters = metrics.counter<"group" | "topic" | "reason">({
    name: "kafka_dead_letters_total",
    help: "Records a consumer sent to its dead-letter topic, by consumer group, original topic and error class.",
    labelNames: ["group", "topic", "reason"],
  });
  const lag = metrics.gauge<"group" | "topic" | "partition">({
    name: "kafka_consumer_lag_records",
    help: "Records between the consumer group's committed offset and the end of each partition this process's consumers own.",
    labelNames: ["group", "topic", "partition"],
  });
  const requests = metrics.counter<"api">({
    name: "kafka_requests_total",
    help: "Requests sent to the Kafka brokers by this process's producers, consumers and admins, by Kafka API.",
    labelNames: ["api"],
  });
  const readsFailed = metrics.counter({
    name: "kafka_offset_reads_failed_total",
    help: "Reads of the consumer groups' committed and end offsets (for the lag) that failed or timed out.",
  });

  /** Each consumer's group and its partitions at its last join (empty when stopped or crashed). */
  const consumers = new Map<Consumer, { groupId: string; assignment: Record<string, number[]> }>();
  let kafka: KafkaClient | undefined;
  let admin: Admin | undefined;
  let reading: Promise<void> | undefined;
  let lastRead = Number.NEGATIVE_INFINITY;

  const observer: KafkaObserver = {
    consumerCreated(groupId, consumer) {
      const entry = { groupId, assignment: {} as Record<string, number[]> };
      consumers.set(consumer, entry);
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        entry.assignment = { ...event.payload.memberAssignment };
      });
      const forget = (): void => {
        entry.assignment = {};
      };
      consumer.on(consumer.events.STOP, forget);
      consumer.on(consumer.events.CRASH, forget);
    },
    deadLettered({ groupId, topic, reason }) {
      deadLetters.inc({ group: groupId, topic, reason });
    },
    request({ apiName }) {
      requests.inc({ api: apiName });
    },
  };

  const resetAdmin = async (): Promise<void> => {
    const current = admin;
    admin = undefined;
    await current?.disconnect().catch(() => undefined);
  };

  const read = async (client: KafkaClient): Promise<Map<string, number>> => {
    const groups = new Map<string, Map<string, Set<number>>>();
    for (const { groupId, assignment } of consumers.values()) {
      for (const [topic, partitions] of Object.entries(assignment)) {
        if (partitions.length === 0) continue;
        const topics = groups.get(groupId) ?? new Map<string, Set<number>>();
        groups.set(groupId, topics);
        const owned = topics.get(topic) ?? new Set<number>();
        topics.set(topic, owned);
        for (const p of partitions) owned.add(p);
      }
    }
    const values = new Map<string, number>();
    if (groups.size === 0) return values;
    if (admin === undefined) {
      const created = client.admin({ retry: { retries: 0 } });
      await created.connect();
      admin = created;
    }
    const a = admin;
    const ends = new Map<string, Promise<{ partition: number; high: string; low: string }[]>>();
    const endsOf = (topic: string) => {
      let e = ends.get(topic);
      if (e === undefined) {
        e = a.fetchTopicOffsets(topic);
        ends.set(topic, e);
      }
      return e;
    };
    await Promise.all(
      [...groups].map(async ([groupId, topics]) => {
        const committed = await a.fetchOffsets({ groupId, topics: [...topics.keys()] });
        await Promise.all(
          committed.map(async ({ topic, partitions }) => {
            const owned = topics.get(topic);
            const end = new Map((await endsOf(topic)).map((p) => [p.partition, p]));
            for (const { partition, offset } of partitions) {
              const bounds = end.get(partition);
              if (owned?.has(partition) !== true || bounds === undefined) continue;
              const from = Number(offset) >= 0 ? Number(offset) : Number(bounds.low);
              values.set(
                JSON.stringify([groupId, topic, String(partition)]),
                Math.max(0, Number(bounds.high) - from),
              );
            }
          }),
        );
      }),
    );
    return values;
  };

  const refreshNow = async (client: KafkaClient): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const values = await Promise.race([
        read(client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`consumer offsets not read within ${String(timeoutMs)} ms`));
          }, timeoutMs);
        }),
      ]);
      lag.reset();
      for (const [key, value] of values) {
        const [group, topic, partition] = JSON.parse(key) as [string, string, string];
        lag.set({ group, topic, partition }, value);
      }
    } catch {
      readsFailed.inc();
      lag.reset();
      await resetAdmin();
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    observer,
    attach(client) {
      kafka = client;
    },
    refresh() {
      const client = kafka;
      if (client === undefined || consumers.size === 0) return Promise.resolve();
      if (reading !== undefined) return reading;
      if (now() - lastRead < minIntervalMs) return Promise.resolve();
      lastRead = now();
      reading = refreshNow(client).finally(() => {
        reading = undefined;
      });
      return reading;
    },
    async close() {
      await reading;
      await resetAdmin();
    },
  };
}
