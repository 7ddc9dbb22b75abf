import kafkajs, { type ITopicConfig } from "kafkajs";
import type { TopicSpec } from "@parley/contracts";
import type { KafkaClient } from "./connection.js";
import type { Serde } from "./serde.js";

// kafkajs is CommonJS and Node's ESM loader does not see this enum as a named export.
const { ConfigResourceTypes } = kafkajs;

export interface Drift {
  readonly topic: string;
  readonly problem: string;
}

export interface ProvisionReport {
  readonly created: readonly string[];
  readonly verified: readonly string[];
  /** Differences that provisioning does not fix by itself (partition counts) or was told not to. */
  readonly drift: readonly Drift[];
  readonly schemas: readonly { subject: string; id: number }[];
}

export interface ProvisionOptions {
  readonly kafka: KafkaClient;
  readonly topics: readonly TopicSpec[];
  /** Overrides each topic's own replication factor (the catalog's `replication`). */
  readonly replicationFactor?: number;
  /** Registers each topic's schema (backward-transitive) when given. */
  readonly serde?: Serde;
  /** Only report: create nothing, register nothing. */
  readonly checkOnly?: boolean;
}

/**
 * Makes Kafka match the catalog: creates missing topics with their partitions and configs,
 * verifies existing ones and reports drift. Partition counts are never changed here: adding
 * partitions moves keys between partitions and breaks per-contact order and co-partitioning,
 * so it is an operator's decision (docs/runbooks/kafka-topics.md).
 */
export async function provisionTopics({
  kafka,
  topics,
  replicationFactor,
  serde,
  checkOnly = false,
}: ProvisionOptions): Promise<ProvisionReport> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    const created: string[] = [];
    const drift: Drift[] = [];
    if (missing.length > 0 && !checkOnly) {
      const specs: ITopicConfig[] = missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        // Option first, then the catalog's own factor; -1 asks for the broker's default.
        replicationFactor: replicationFactor ?? t.replicationFactor ?? -1,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      }));
      // A busy broker can answer "does not host this topic-partition" while leaders are still
      // being elected; then only what is still missing is created again.
      for (let attempt = 1; ; attempt++) {
        try {
          const stillMissing = new Set(await admin.listTopics());
          const toCreate = specs.filter((spec) => !stillMissing.has(spec.topic));
          if (toCreate.length > 0)
            await admin.createTopics({ topics: toCreate, waitForLeaders: true });
          break;
        } catch (error) {
          if (attempt >= 5 || (error as { type?: unknown }).type !== "UNKNOWN_TOPIC_OR_PARTITION")
            throw error;
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
      created.push(...missing.map((t) => t.name));
    } else {
      for (const t of missing) drift.push({ topic: t.name, problem: "missing" });
    }

    const present = topics.filter((t) => existing.has(t.name));
    const verified: string[] = [];
    if (present.length > 0) {
      const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: present.map((t) => ({
          type: ConfigResourceTypes.TOPIC,
          name: t.name,
          configNames: Object.keys(t.config),
        })),
      });
      for (const t of present) {
        const partitions = metadata.topics.find((m) => m.name === t.name)?.partitions.length ?? 0;
        const problems: string[] = [];
        if (partitions !== t.partitions)
          problems.push(`has ${partitions} partitions, catalog says ${t.partitions}`);
        const entries =
          described.resources.find((r) => r.resourceName === t.name)?.configEntries ?? [];
        for (const [name, want] of Object.entries(t.config)) {
          const have = entries.find((e) => e.configName === name)?.configValue;
          if (have !== want) problems.push(`${name} is ${have ?? "unset"}, catalog says ${want}`);
        }
        if (problems.length === 0) verified.push(t.name);
        else for (const problem of problems) drift.push({ topic: t.name, problem });
      }
    }

    const schemas: { subject: string; id: number }[] = [];
    if (serde && !checkOnly) {
      for (const t of topics.filter((x) => x.events.length > 0))
        schemas.push({ subject: t.subject, id: await serde.register(t) });
    }
    return { created, verified, drift, schemas };
  } finally {
    await admin.disconnect();
  }
}
