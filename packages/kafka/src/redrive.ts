import type { IHeaders } from "kafkajs";
import { headerNames } from "@parley/contracts";
import type { KafkaClient, KafkaLogger } from "./connection.js";
import type { AuditFact } from "./audit-publisher.js";
import { createRecordProducer } from "./record-producer.js";

export interface RedriveOptions {
  readonly kafka: KafkaClient;
  /** The consumer's dead-letter topic (catalog.deadLetterTopic(consumer).name). */
  readonly deadLetterTopic: string;
  /** Consumer group that remembers what was already re-driven; defaults to `<dead-letter topic>.redrive`. */
  readonly groupId?: string;
  /** Only records whose original topic passes; others are skipped (and stay committed as read). */
  readonly filter?: (record: {
    originalTopic: string;
    errorClass: string;
    offset: string;
  }) => boolean;
  readonly limit?: number;
  readonly dryRun?: boolean;
  readonly logger?: KafkaLogger;
  readonly timeoutMs?: number;
  /**
   * Records the re-drive on the audit topic (AuditRecorded `dlq.redriven`) once it finished or
   * failed, dry runs included: who, which dead-letter topic, the filter, the limit, the counts.
   */
  readonly audit?: RedriveAudit;
}

export interface RedriveAudit {
  /** Who re-drives (an operator's name at the command line, or a caller's identity). */
  readonly actor: string;
  readonly method?: "cli" | "service";
  /** The filter in words (`originalTopic=parley.statuses`), when there is one. */
  readonly filter?: string;
  /** Publishes the fact (publishAuditFact over a producer); a failure fails the re-drive's call. */
  readonly publish: (fact: AuditFact) => Promise<void>;
  readonly now?: () => Date;
}

export interface RedriveReport {
  readonly redriven: number;
  readonly skipped: number;
  readonly byTopic: Readonly<Record<string, number>>;
}

const text = (headers: IHeaders, name: string): string | undefined => {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first?.toString();
};

/**
 * Sends dead letters back to the topic they came from, after a fix. Reads the dead-letter
 * topic up to its end as of the start, strips the dead-letter headers, counts the re-drive in
 * a header, and commits its progress so a second run does not send the same letters again.
 */
export async function redrive(options: RedriveOptions): Promise<RedriveReport> {
  const { audit } = options;
  if (audit === undefined) return redriveLetters(options);
  if (audit.actor.trim() === "") throw new RangeError("re-drive: the audit actor is empty");
  const now = audit.now ?? (() => new Date());
  const details = {
    dryRun: options.dryRun ?? false,
    filter: audit.filter ?? "none",
    limit: options.limit === undefined ? "none" : String(options.limit),
  };
  const fact = (outcome: Record<string, string | number | boolean | readonly string[]>) =>
    audit.publish({
      action: "dlq.redriven",
      actor: { id: audit.actor, method: audit.method ?? "cli" },
      target: { deadLetterTopic: options.deadLetterTopic },
      details: { ...details, ...outcome },
      at: now(),
    });
  let report: RedriveReport;
  try {
    report = await redriveLetters(options);
  } catch (error) {
    await fact({
      outcome: "failed",
      error: (error instanceof Error ? error.message : String(error)).slice(0, 1_000),
    }).catch(() => undefined);
    throw error;
  }
  await fact({
    outcome: "done",
    redriven: report.redriven,
    skipped: report.skipped,
    byTopic: Object.entries(report.byTopic).map(([topic, n]) => `${topic}=${String(n)}`),
  });
  return report;
}

async function redriveLetters({
  kafka,
  deadLetterTopic,
  groupId = `${deadLetterTopic}.redrive`,
  filter = () => true,
  limit = Number.POSITIVE_INFINITY,
  dryRun = false,
  logger,
  timeoutMs = 60_000,
}: RedriveOptions): Promise<RedriveReport> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(deadLetterTopic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [deadLetterTopic] });
  await admin.disconnect();
  const done = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  // Partitions with nothing new since the last re-drive (or ever) are finished before we start.
  const remaining = new Map(
    ends
      .filter(
        (p) => BigInt(p.high) > BigInt(p.low) && BigInt(p.high) > (done.get(p.partition) ?? -1n),
      )
      .map((p) => [p.partition, BigInt(p.high)]),
  );
  const byTopic: Record<string, number> = {};
  let redriven = 0;
  let skipped = 0;
  if (remaining.size === 0) return { redriven, skipped, byTopic };

  // Renewed after any failed produce, like every producer of the layer (issue 32).
  const producer = createRecordProducer({ kafka, name: `re-drive of ${deadLetterTopic}`, logger });
  const consumer = kafka.consumer({ groupId });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
  const dlqHeaderNames = new Set<string>(Object.values(headerNames.dlq));

  let finish: () => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => {
    fail(new Error(`re-drive of ${deadLetterTopic} did not reach the end within ${timeoutMs} ms`));
  }, timeoutMs);

  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const end = remaining.get(partition);
      if (end === undefined || BigInt(message.offset) >= end || redriven >= limit) return;
      const headers = message.headers ?? {};
      const originalTopic = text(headers, headerNames.dlq.originalTopic);
      const errorClass = text(headers, headerNames.dlq.errorClass) ?? "unknown";
      if (
        originalTopic === undefined ||
        !filter({ originalTopic, errorClass, offset: message.offset })
      ) {
        skipped++;
      } else {
        if (!dryRun) {
          const kept: IHeaders = {};
          for (const [name, value] of Object.entries(headers))
            if (!dlqHeaderNames.has(name) && value !== undefined) kept[name] = value;
          kept[headerNames.redriveCount] = String(
            Number(text(headers, headerNames.redriveCount) ?? "0") + 1,
          );
          await producer.send(originalTopic, [
            { key: message.key, value: message.value, headers: kept },
          ]);
        }
        redriven++;
        byTopic[originalTopic] = (byTopic[originalTopic] ?? 0) + 1;
      }
      if (!dryRun)
        await consumer.commitOffsets([
          { topic: deadLetterTopic, partition, offset: (BigInt(message.offset) + 1n).toString() },
        ]);
      if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
      if (remaining.size === 0 || redriven >= limit) finish();
    },
  });
  try {
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await producer.disconnect();
  }
  logger?.info({ deadLetterTopic, redriven, skipped, byTopic, dryRun }, "re-drive finished");
  return { redriven, skipped, byTopic };
}
