import type { Totals } from "../domain/analytics.js";
import type { Cursor } from "./params.js";

/** A stored read-model document: the state's fields and the derived query fields. */
export type ReadDocument = Readonly<Record<string, unknown>> & { readonly _id: string };

export type ListedKind = "requests" | "messages" | "contacts" | "conversations";

/** A page of a list: newest first (by `sortAt`, then id), `limit` items at most. */
export interface ListQuery {
  /** Field equals value, on the derived query fields (values are plain strings). */
  readonly equals: Readonly<Record<string, string>>;
  /** `sortAt` at or after `from`, and before `to`. */
  readonly from?: string;
  readonly to?: string;
  readonly cursor?: Cursor;
  readonly limit: number;
}

/** An analytics bucket as stored: its dimensions and totals. */
export interface BucketRow {
  readonly _id: string;
  readonly hour: string;
  readonly day: string;
  readonly direction: string;
  readonly businessNumber: string;
  readonly template: string;
  readonly category: string;
  readonly country: string;
  readonly totals: Totals;
}

/** Port: reads of one generation's read models (MongoDB). Every call may fail with an outage. */
export interface ReadModelsReader {
  one(generation: number, kind: ListedKind, id: string): Promise<ReadDocument | undefined>;
  many(
    generation: number,
    kind: ListedKind,
    ids: readonly string[],
  ): Promise<readonly ReadDocument[]>;
  /** Up to `limit + 1` documents (one more tells whether there is a next page). */
  list(generation: number, kind: ListedKind, query: ListQuery): Promise<readonly ReadDocument[]>;
  count(
    generation: number,
    kind: ListedKind,
    equals: Readonly<Record<string, string>>,
  ): Promise<number>;
  /** Buckets whose hour is in [fromHour, toHour), with dimensions equal to `equals`. */
  buckets(
    generation: number,
    fromHour: string,
    toHour: string,
    equals: Readonly<Record<string, string>>,
  ): Promise<readonly BucketRow[]>;
  templates(generation: number, wabaId: string | undefined): Promise<readonly ReadDocument[]>;
}
