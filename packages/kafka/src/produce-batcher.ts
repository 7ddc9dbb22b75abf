import type { Message, TopicMessages } from "kafkajs";

/** Sends one produce request holding every topic's messages, in the order given. */
export type SendBatch = (topicMessages: TopicMessages[]) => Promise<void>;

export interface ProduceBatchLimits {
  /** Most records in one produce request (default 500). */
  readonly maxBatchRecords?: number;
  /**
   * Most bytes (keys, values, headers) in one produce request (default 512 KiB), below the
   * broker's default `message.max.bytes` of 1 MiB for one partition's record batch.
   */
  readonly maxBatchBytes?: number;
}

export interface ProduceBatcher {
  /** Appends `messages` to `topic` in the next produce request; resolves once it is acknowledged. */
  append(topic: string, messages: readonly Message[]): Promise<void>;
  /** Calls waiting for a request or inside the one in flight. */
  readonly pending: number;
}

interface Call {
  readonly topic: string;
  readonly messages: readonly Message[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const sizeOf = (value: Buffer | string | null | undefined): number =>
  value === null || value === undefined
    ? 0
    : typeof value === "string"
      ? Buffer.byteLength(value)
      : value.length;

/** The bytes a message puts on the wire, before the record format's own overhead. */
export function messageBytes(message: Message): number {
  let bytes = sizeOf(message.key) + sizeOf(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const values: readonly (Buffer | string | undefined)[] = Array.isArray(value) ? value : [value];
    for (const v of values) bytes += Buffer.byteLength(name) + sizeOf(v);
  }
  return bytes;
}

/**
 * Group commit for one idempotent producer. The producer keeps one request in flight (so a retry
 * cannot reorder records), and kafkajs gives every `send` a request of its own: concurrent callers
 * would queue behind each other, one round trip each. Here the calls that arrive while a request
 * is out wait together and go in the next request, in arrival order, so per-partition order is
 * the order of the calls. A call is never split across requests.
 *
 * When a request holding several calls fails, each call is sent again alone, in order, and
 * settles with its own result: one call the broker refuses (a topic that does not exist, a record
 * too large) fails alone. Records of the failed request that the broker had appended may then be
 * appended twice; consumers deduplicate by event id, as for any producer retry.
 */
export function createProduceBatcher(
  sendBatch: SendBatch,
  { maxBatchRecords = 500, maxBatchBytes = 512 * 1024 }: ProduceBatchLimits = {},
): ProduceBatcher {
  for (const [name, value] of Object.entries({ maxBatchRecords, maxBatchBytes })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `createProduceBatcher: ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  const waiting: Call[] = [];
  let inFlight = 0;
  let sending = false;
  let scheduled = false;

  const take = (): Call[] => {
    const batch: Call[] = [];
    let records = 0;
    let bytes = 0;
    for (;;) {
      const next = waiting[0];
      if (next === undefined) break;
      const fits =
        records + next.messages.length <= maxBatchRecords && bytes + next.bytes <= maxBatchBytes;
      // The first call always goes, even when it is over the limits on its own.
      if (batch.length > 0 && !fits) break;
      waiting.shift();
      batch.push(next);
      records += next.messages.length;
      bytes += next.bytes;
    }
    return batch;
  };

  const request = (calls: readonly Call[]): Promise<void> => {
    const byTopic = new Map<string, Message[]>();
    for (const call of calls) {
      const list = byTopic.get(call.topic);
      if (list === undefined) byTopic.set(call.topic, [...call.messages]);
      else list.push(...call.messages);
    }
    return sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
  };

  const settle = async (call: Call, work: Promise<void>): Promise<void> => {
    try {
      await work;
      call.resolve();
    } catch (error) {
      call.reject(error);
    }
  };

  const run = async (batch: readonly Call[]): Promise<void> => {
    try {
      await request(batch);
      for (const call of batch) call.resolve();
    } catch (error) {
      const [only] = batch;
      if (batch.length === 1 && only !== undefined) {
        only.reject(error);
        return;
      }
      for (const call of batch) await settle(call, request([call]));
    }
  };

  const pump = (): void => {
    scheduled = false;
    if (sending || waiting.length === 0) return;
    sending = true;
    const batch = take();
    void run(batch).finally(() => {
      inFlight -= batch.length;
      sending = false;
      schedule();
    });
  };

  const schedule = (): void => {
    if (scheduled || sending || waiting.length === 0) return;
    scheduled = true;
    // The calls made in the same turn of the event loop join the first request.
    setImmediate(pump);
  };

  return {
    append(topic, messages) {
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let bytes = 0;
        for (const m of messages) bytes += messageBytes(m);
        waiting.push({ topic, messages, bytes, resolve, reject });
        inFlight++;
        schedule();
      });
    },
    get pending() {
      return inFlight;
    },
  };
}
