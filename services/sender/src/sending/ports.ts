import type { AnyEvent, EventOf } from "@parley/contracts";
import type { GateStore, OutcomeOutlet, DispatchOutlet } from "../domain/ports.js";
import type { TokenReport } from "../domain/token.js";
import type { GraphSend } from "./dispatch-handler.js";

// The sending side's ports: what it needs from Kafka, MongoDB and Graph, declared here and
// implemented in adapters/ (main.ts plugs one into the other). The attempt, gate and throughput
// stores' ports are in domain/ports.ts.

/** Where a dispatch record sits in the dispatch topic (parked dispatches keep this order). */
export interface RecordAt {
  readonly partition: number;
  readonly offset: number;
}

/** Parking of dispatches on arrival, before they wait behind their recipient's records. */
export interface DispatchParking {
  /**
   * Why this record parks instead of being handled (its number is paused, has parked dispatches
   * ahead, or has `inFlight` records in memory on a dispatch partition it shares); undefined:
   * it is handled.
   */
  setAside(
    number: string,
    at: RecordAt,
    inFlight: number,
  ): Promise<"paused" | "overflow" | undefined>;
  /** Parks a dispatch: one set aside, or one whose number paused on its way to the call. */
  park(
    number: string,
    at: RecordAt,
    dispatch: EventOf<"DispatchMessage">,
    why: "paused" | "overflow",
  ): Promise<void>;
}

/** A dispatch set aside while its number is paused, with the record coordinates that order it. */
export interface ParkedDispatch {
  readonly requestId: string;
  readonly number: string;
  /** Partition and offset of its dispatch record: one number's records share a partition. */
  readonly partition: number;
  readonly offset: number;
  readonly recipient: string;
  readonly dispatch: EventOf<"DispatchMessage">;
  readonly parkedAt: Date;
}

/** The parking port: dispatches of paused numbers, kept until the number is sent again. */
export interface ParkStore {
  /** Keeps the dispatch; true when it was not parked already (a redelivery parks once). */
  park(p: ParkedDispatch): Promise<boolean>;
  /** Parked dispatches of a number after `afterOffset`, oldest record first. */
  next(number: string, afterOffset: number, limit: number): Promise<ParkedDispatch[]>;
  count(number: string): Promise<number>;
  remove(requestId: string): Promise<void>;
  /** Every number with parked dispatches, with the partitions they came from. */
  backlog(): Promise<{ number: string; partitions: number[] }[]>;
  ensureIndexes(): Promise<void>;
}

/** What the broker says of the dispatch topic: its partition count and a group's committed offsets. */
export interface DispatchTopicAdmin {
  /** The topic's partition count on the broker. */
  partitionCount(): Promise<number | undefined>;
  /** Where `groupId` resumes `partition` from; -1 when it has committed nothing there yet. */
  committed(groupId: string, partition: number): Promise<number>;
  close(): Promise<void>;
}

/** Graph for the sender: the send itself, a token probe and a number's throughput level. */
export interface GraphClient {
  readonly send: GraphSend;
  /** True when Graph takes the number's token again. */
  probe(number: string): Promise<boolean>;
  /** The number's throughput level (`GET /{id}?fields=throughput`); rejects when Graph says no. */
  level(number: string): Promise<string>;
  /**
   * What Graph's `debug_token` says of the number's current token; a token Graph refuses to
   * answer with (190, 0) is reported invalid. Rejects when Graph cannot be asked (an outage).
   */
  inspectToken(number: string): Promise<TokenReport>;
  close(): Promise<void>;
}

/** A token file that changed on disk (`ok`: its new token is in use) or could not be read again. */
export type TokenFileChange = (
  | { readonly number: string; readonly where: string; readonly path: string; readonly ok: true }
  | {
      readonly number: string;
      readonly where: string;
      readonly path: string;
      readonly ok: false;
      readonly problem: string;
    }
) & {
  /** The Graph app token's file (GRAPH_APP_TOKEN_FILE), not a number's: `number` is "". */
  readonly app?: true;
};

/** Each number's current Graph token, and token files re-read when they change (rotation). */
export interface TokenKeeper {
  token(number: string): string;
  /** The configuration key (and file or variable) a number's token comes from: the secret to fix. */
  secretOf(number: string): string | undefined;
  /** Looks at every token file once: what changed since the last look. */
  poll(): Promise<TokenFileChange[]>;
  /** The Graph app token in use (GRAPH_APP_TOKEN, re-read from its file on change), if any. */
  appToken?(): string | undefined;
}

/** What the media service says of a Parley upload for one sending number. */
export type MediaResolution =
  | { readonly kind: "resolved"; readonly graphMediaId: string }
  /** Final: the object is gone (404), Graph refused the file (422), or the request was refused. */
  | { readonly kind: "refused"; readonly detail: string }
  /** An outage (503, no connection, a timeout): asked again later, never a failure of the request. */
  | { readonly kind: "unavailable"; readonly detail: string };

/**
 * The media service (ADR 0013, "Outbound"): a Parley upload's (`up_...`) Graph media id for the
 * sending number, uploaded once and cached by number and content hash there.
 */
export interface MediaResolver {
  resolve(mediaId: string, number: string, signal: AbortSignal): Promise<MediaResolution>;
}

/** Runs tasks one at a time per key, in submission order, different keys in parallel. */
export interface KeyedRunner {
  run(key: string, task: () => Promise<void>): Promise<void>;
  drain(): Promise<void>;
}

/** Something started and stopped with the sender (a consumer). */
export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The dispatch consumer as the sending side sees it: its partitions, its queues, its transactions. */
export interface DispatchFeed extends Startable {
  /** The consumer group (its committed offsets say where a new owner resumes). */
  readonly groupId: string;
  /** This instance's dispatch partitions, and a count that moves on whenever they may have. */
  assignment(): { readonly partitions: readonly number[]; readonly joins: number };
  /** Records of `recipient` on the main track of `partition`, taken and unfinished. */
  pending(partition: number, number: string, recipient: string): number;
  /** The number's records set aside on `partition` and not parked yet. */
  setAsidePending(partition: number, number: string): number;
  /**
   * Commits `events` with the next transaction of dispatch partition `partition`; rejects when
   * the partition is not owned or is lost first.
   */
  publishWith(partition: number, events: readonly AnyEvent[]): Promise<void>;
}

/** What the sending side hands its consumers: one function per input topic. */
export interface SenderHandlers {
  /** dispatch: one DispatchMessage, with its record's outlet and place. */
  readonly handle: (
    event: EventOf<"DispatchMessage">,
    signal: AbortSignal,
    outlet: DispatchOutlet,
    at: RecordAt,
  ) => Promise<unknown>;
  readonly parking: DispatchParking;
  /** The outlet of outcomes of no record on a dispatch partition (a dead-lettered dispatch's). */
  readonly outboxOf: (partition: number) => OutcomeOutlet;
  /** consent and conversation-windows. */
  readonly gates: GateStore;
  /** statuses. */
  readonly onStatus: (
    event: EventOf<"StatusUpdated">,
    outlet: OutcomeOutlet,
    signal: AbortSignal,
  ) => Promise<void>;
  /** business-events. */
  readonly onQuality: (event: EventOf<"PhoneNumberQualityUpdated">) => Promise<void>;
}

/** The sender's consumers, made by the Kafka adapter from the handlers. */
export interface SenderConsumers {
  readonly dispatch: DispatchFeed;
  readonly gates: Startable;
  readonly statuses: Startable;
  readonly numbers: Startable;
}
