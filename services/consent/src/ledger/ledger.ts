import {
  createCommandHandler,
  type CommandHandlerObserver,
  type Keyed,
  type Publish,
} from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { eventIdOf, openSeal, sealFor, sha256Hex, type DataKey } from "../crypto/keys.js";
import {
  entryName,
  ledgerDecider,
  recordedInputOf,
  type ConsentCommand,
  type LedgerContext,
} from "./decide.js";
import type { LedgerEntry, LedgerState } from "./evolve.js";
import type {
  KeyRecord,
  KeyStore,
  LedgerReader,
  LedgerStore,
  SendLog,
  SendRecord,
} from "./ports.js";
import { currentView, type ContactView } from "./view.js";

export interface ConsentLedgerOptions {
  readonly store: LedgerStore;
  readonly reader: LedgerReader;
  /**
   * Per-contact data keys; absent when no master key is configured: opt-outs are then recorded
   * without their evidence, and an API input carrying evidence is refused (EvidenceNotKeptError).
   */
  readonly keys?: KeyStore | undefined;
  readonly publish: Publish<LedgerEntry>;
  /** Sends decided under a consent entry; absent: not recorded. */
  readonly sends?: SendLog | undefined;
  readonly clock: () => Date;
  readonly cacheSize?: number;
  readonly maxBatchKeys?: number;
  /**
   * The API and import lane's published marks, written together behind the callers every this
   * many ms (ADR 0010, "Deferred marks"; CONSENT_IMPORT_MARK_DELAY_MS, 50): a batch's callers
   * resolve once its entries are saved and published, one round trip sooner. Call `flush()`
   * when stopping. Unset: each batch marks its own before its callers resolve.
   */
  readonly markDelayMs?: number | undefined;
  readonly observer?: CommandHandlerObserver<ConsentCommand, LedgerEntry, LedgerEntry>;
}

/** An entry with its evidence opened (when the contact's key still exists). */
export interface OpenedEntry {
  readonly entry: LedgerEntry;
  readonly opened?: { readonly salt: string; readonly evidence: string };
}

/** Evidence was given but cannot be kept: no master key is configured (CONSENT_MASTER_KEYS). */
export class EvidenceNotKeptError extends ParleyError {
  override readonly name = "EvidenceNotKeptError";
  constructor() {
    super(
      "evidence cannot be kept: the consent service has no master key (CONSENT_MASTER_KEYS); nothing was recorded",
      { retry: "never" },
    );
  }
}

/** Whether a command brings personal data to seal (and so needs the contact's key). */
const needsKey = (command: ConsentCommand): boolean =>
  command.type !== "EraseContact" &&
  !(command.type === "RecordConsent" && command.evidence === undefined);

/** An input from the contact or Meta (the consumer's), decided on the live lane. */
export const isLiveInput = (command: ConsentCommand): boolean =>
  command.type === "KeywordReceived" ||
  command.type === "PreferencesUpdated" ||
  command.type === "MarketingRefused";

/**
 * The consent ledger's use cases (ADR 0012) on the shared decider runtime (ADR 0010): inputs are
 * decided per contact, saved and published; the context loader finds or creates each contact's
 * data key so the decider can seal evidence without doing I/O; an erasure is decided first and
 * then destroys the key (re-run after a crash, both steps are idempotent).
 */
export function createConsentLedger({
  store,
  reader,
  keys,
  publish,
  sends,
  clock,
  cacheSize = 1_000,
  maxBatchKeys,
  markDelayMs,
  observer,
}: ConsentLedgerOptions) {
  const contextOf = (
    now: Date,
    key: KeyRecord | undefined,
    recorded: ReadonlySet<string>,
  ): LedgerContext => ({
    now,
    eventIdOf,
    sha256: sha256Hex,
    recorded: (eventId) => recorded.has(eventId),
    seal: (eventId, plaintext) =>
      key?.status === "active" ? sealFor(key.key, eventId, plaintext) : undefined,
  });
  const runtimeOf = (cached: number, delay?: number) =>
    createCommandHandler({
      decider: ledgerDecider,
      store,
      publish,
      clock,
      cacheSize: cached,
      // Saved entries are readable beside the head once the save resolves (the store writes
      // them): the head kept in memory forgets them, or a hot contact's would grow without end.
      retain: (state) => (state.recent.length === 0 ? state : { ...state, recent: [] }),
      ...(maxBatchKeys === undefined ? {} : { maxBatchKeys }),
      ...(delay === undefined ? {} : { markDelayMs: delay }),
      ...(observer === undefined ? {} : { observer }),
      context: async (commands, now) => {
        // The inputs already stored as entries (a re-import, a redelivery): one round trip.
        const asked = commands.flatMap(({ key, command }) => {
          const input = recordedInputOf(command);
          return input === undefined
            ? []
            : [eventIdOf(entryName(key, input.inputId, input.purpose))];
        });
        const recordedIds = reader.recorded(asked);
        const wanted = [...new Set(commands.filter((c) => needsKey(c.command)).map((c) => c.key))];
        const found = new Map(
          keys === undefined || wanted.length === 0 ? [] : await keys.get(wanted),
        );
        const missing = wanted.filter((contactId) => !found.has(contactId));
        if (keys !== undefined && missing.length > 0)
          for (const [id, record] of await keys.create(missing)) found.set(id, record);
        const recorded = await recordedIds;
        return commands.map((c) => contextOf(now, found.get(c.key), recorded));
      },
    });
  // Two lanes on the same store (ADR 0012, "Opt-out speed"): the contacts' own inputs (STOP and
  // START replies, user_preferences, 131050 failures) never wait behind a batch of imported rows
  // or API calls; a contact touched by both at once is settled by the store's version check (the
  // loser is decided again on the winner's state), as between two consent instances.
  // The API lane keeps no head in memory: an import cycles through more contacts than any cache
  // holds (50,000 contacts for a 1-million-row import: a 1,000-entry cache is never hit), and each
  // batch loads its heads in one round trip anyway. Heads are small (ADR 0012, amended
  // 2026-12-07: the entries live one document each beside them).
  // The import lane's marks may wait (deferred, coalesced): an import's batches then cost one
  // round trip less each; the live lane marks at once (a STOP's caller is one input at a time).
  const live = runtimeOf(cacheSize);
  const runtime = runtimeOf(0, markDelayMs);
  const laneOf = (commands: readonly Keyed<ConsentCommand>[]) =>
    commands.every((c) => isLiveInput(c.command)) ? live : runtime;

  const keyOf = async (contactId: string): Promise<DataKey | undefined> => {
    if (keys === undefined) return undefined;
    const record = (await keys.get([contactId])).get(contactId);
    return record?.status === "active" ? record.key : undefined;
  };

  return {
    /** Writes the marks the API and import lane holds (markDelayMs); call when stopping. */
    flush: () => runtime.flush(),

    /** Decides, saves and publishes; resolves once every resulting entry is durable. */
    handle: (commands: readonly Keyed<ConsentCommand>[]) => {
      if (
        keys === undefined &&
        commands.some((c) => c.command.type === "RecordConsent" && c.command.evidence !== undefined)
      ) {
        return Promise.reject(new EvidenceNotKeptError());
      }
      return laneOf(commands).handle(commands);
    },

    /** Records ContactErased, then destroys the contact's key. */
    async erase(contactId: string, requestedBy: string, inputId: string): Promise<ContactView> {
      const record = keys === undefined ? undefined : (await keys.get([contactId])).get(contactId);
      const keyIds =
        record === undefined ? [] : [record.status === "active" ? record.key.keyId : record.keyId];
      await runtime.handle([
        { key: contactId, command: { type: "EraseContact", inputId, requestedBy, keyIds } },
      ]);
      await keys?.destroy(contactId, clock());
      await sends?.forget(contactId);
      return this.view(contactId);
    },

    /** Keeps which consent entry a send relied on (one record per request and outcome). */
    async recordSend(send: SendRecord): Promise<void> {
      await sends?.record(send);
    },

    /** What was sent to the contact under which consent, newest first. */
    async sendsOf(contactId: string, limit = 1_000): Promise<readonly SendRecord[]> {
      return sends === undefined ? [] : sends.of(contactId, limit);
    },

    async view(contactId: string): Promise<ContactView> {
      const state = (await reader.get(contactId)) ?? ledgerDecider.initialState(contactId);
      return currentView(state, clock());
    },

    /**
     * The contact's entries in order with their evidence opened while the key exists, read a
     * page at a time; undefined when the contact has no ledger.
     */
    async history(contactId: string): Promise<AsyncIterable<OpenedEntry> | undefined> {
      const head = await reader.get(contactId);
      if (head === undefined) return undefined;
      const key = await keyOf(contactId);
      return openAll(reader.entries(head), key);
    },

    /** The entries a contact's input was recorded as (by their deterministic event ids). */
    async entriesOf(contactId: string, command: ConsentCommand): Promise<readonly LedgerEntry[]> {
      const head = await reader.get(contactId);
      const input = recordedInputOf(command);
      if (head === undefined || input === undefined) return [];
      const ofInput = (entry: LedgerEntry) =>
        entry.type !== "ContactErased" && entry.data.inputId === input.inputId;
      // Usually the head's last write (its outbox); else the ledger, a page at a time.
      const recent = head.recent.filter(ofInput);
      if (recent.length > 0) return recent;
      const out: LedgerEntry[] = [];
      for await (const entry of reader.entries(head)) {
        if (ofInput(entry)) out.push(entry);
      }
      return out;
    },

    /** Every ledger's entries recorded in [from, to), evidence opened, contact by contact. */
    async *export(filter: {
      readonly contactId?: string | undefined;
      readonly from?: Date | undefined;
      readonly to?: Date | undefined;
    }): AsyncIterable<OpenedEntry> {
      const inPeriod = (entry: LedgerEntry) => {
        const at = Date.parse(entry.recordedAt);
        return (
          (filter.from === undefined || at >= filter.from.getTime()) &&
          (filter.to === undefined || at < filter.to.getTime())
        );
      };
      const heads: AsyncIterable<LedgerState> | readonly LedgerState[] =
        filter.contactId === undefined
          ? reader.scan()
          : await reader.get(filter.contactId).then((s) => (s === undefined ? [] : [s]));
      for await (const head of heads) {
        const key = await keyOf(head.contactId);
        for await (const opened of openAll(reader.entries(head), key)) {
          if (inPeriod(opened.entry)) yield opened;
        }
      }
    },
  };
}

async function* openAll(
  entries: AsyncIterable<LedgerEntry>,
  key: DataKey | undefined,
): AsyncIterable<OpenedEntry> {
  for await (const entry of entries) yield openOne(entry, key);
}

function openOne(entry: LedgerEntry, key: DataKey | undefined): OpenedEntry {
  const sealed = entry.type === "ContactErased" ? undefined : entry.data.sealed;
  if (sealed === undefined || key === undefined || sealed.keyId !== key.keyId) return { entry };
  try {
    const { salt, data } = openSeal(key, sealed);
    return { entry, opened: { salt, evidence: data } };
  } catch {
    return { entry };
  }
}

export type ConsentLedger = ReturnType<typeof createConsentLedger>;
