/**
 * The records of one partition in arrival order, and which are finished. The committable
 * offset is the first unfinished one (or one past the last record when all are finished), so
 * a commit never covers a record still in progress, whatever order the keys finish in.
 */
export class OffsetTracker {
  private readonly entries: { offset: bigint; done: boolean }[] = [];
  private readonly byOffset = new Map<bigint, { offset: bigint; done: boolean }>();
  private head = 0;
  private last: bigint | undefined;
  private committed: bigint | undefined;
  private firstAdded: bigint | undefined;

  /** The first offset ever added: where this owner's reading began. */
  get first(): bigint | undefined {
    return this.firstAdded;
  }

  /** Highest offset ever added: a refetched record at or below it is already tracked. */
  get highest(): bigint | undefined {
    return this.last;
  }

  get pending(): number {
    return this.entries.length - this.head;
  }

  add(offset: bigint): void {
    if (this.last !== undefined && offset <= this.last) {
      throw new Error(
        `offset ${offset} added after ${this.last}: records of a partition arrive in order`,
      );
    }
    this.firstAdded ??= offset;
    const entry = { offset, done: false };
    this.entries.push(entry);
    this.byOffset.set(offset, entry);
    this.last = offset;
  }

  /**
   * Kafka passed over everything up to `offset` without delivering it (a transaction's commit
   * or abort marker, aborted records): finished, so the committed offset moves past it. Without
   * this a partition whose last record is a marker stays one behind its end for good.
   */
  skipTo(offset: bigint): void {
    if (this.last !== undefined && offset <= this.last) return;
    this.add(offset);
    this.complete(offset);
  }

  complete(offset: bigint): void {
    const entry = this.byOffset.get(offset);
    if (!entry) return;
    entry.done = true;
    while (this.head < this.entries.length && this.entries[this.head]?.done === true) {
      const finished = this.entries[this.head];
      if (finished) this.byOffset.delete(finished.offset);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The first unfinished offset, or one past the last record when all are finished (undefined before any). */
  watermark(): bigint | undefined {
    const next = this.entries[this.head];
    return next ? next.offset : this.last === undefined ? undefined : this.last + 1n;
  }

  /** The finished offsets above the watermark (records finished out of order), ascending. */
  finishedAbove(): bigint[] {
    const out: bigint[] = [];
    for (let i = this.head + 1; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry?.done === true) out.push(entry.offset);
    }
    return out;
  }

  /** The offset to commit now (Kafka's "next offset to read"), or undefined when nothing new is safe. */
  committable(): bigint | undefined {
    const candidate = this.watermark();
    if (candidate === undefined) return undefined;
    if (this.committed !== undefined && candidate <= this.committed) return undefined;
    return candidate;
  }

  markCommitted(offset: bigint): void {
    if (this.committed === undefined || offset > this.committed) this.committed = offset;
  }
}
