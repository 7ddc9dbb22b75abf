import { buildEvent, createEvent, type EventData, type EventOf } from "@parley/contracts";
import type { Decider } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { chainHead, ledgerBody } from "./chain.js";
import {
  decidingEntry,
  evolve,
  hasInput,
  initialState,
  outranks,
  type ConsentEntry,
  type LedgerEntry,
  purposes,
  type LedgerState,
  type Purpose,
} from "./evolve.js";

/** Evidence of an opt-in or opt-out; personal data, sealed before it leaves the decider. */
export type Evidence = Readonly<Record<string, string>>;

type Channel = EventData<"ConsentGranted">["channel"];
type Source = EventData<"ConsentGranted">["source"];

/** An opt-in or opt-out recorded through the API or a bulk import. */
export interface RecordConsent {
  readonly type: "RecordConsent";
  /** Unique per input (the caller's id, or the import's row): a repeat decides nothing. */
  readonly inputId: string;
  readonly decision: "granted" | "revoked";
  readonly purposes: readonly Purpose[];
  /** When the contact expressed it (not when it is recorded). */
  readonly occurredAt: string;
  readonly channel: Channel;
  readonly source: Extract<Source, "api" | "import" | "operator">;
  readonly recordedBy: string;
  readonly sourceSystem?: string | undefined;
  readonly businessName?: string | undefined;
  readonly wording?:
    { readonly text?: string | undefined; readonly versionHash?: string | undefined } | undefined;
  readonly evidence?: Evidence | undefined;
  readonly expiresAt?: string | undefined;
  readonly correlationId?: string | undefined;
}

/** An erasure request: the contact's key is destroyed once ContactErased is saved. */
export interface EraseContact {
  readonly type: "EraseContact";
  readonly inputId: string;
  readonly requestedBy: string;
  readonly keyIds: readonly string[];
}

export type ConsentCommand =
  | RecordConsent
  | EraseContact
  | { readonly type: "KeywordReceived"; readonly event: EventOf<"ConsentKeywordReceived"> }
  | { readonly type: "PreferencesUpdated"; readonly event: EventOf<"UserPreferencesUpdated"> }
  | { readonly type: "MarketingRefused"; readonly event: EventOf<"SendFailed"> };

/** What a decision needs besides the state; sealing and hashing come in so decide stays pure. */
export interface LedgerContext {
  readonly now: Date;
  /** Deterministic event ids (UUIDv5 of a name). */
  readonly eventIdOf: (name: string) => string;
  /** sha-256 in lowercase hex of a UTF-8 text. */
  readonly sha256: (text: string) => string;
  /**
   * Whether the entry with this event id is already stored beside the head (an input recorded
   * before the head was read: the decider recognises it and decides nothing).
   */
  readonly recorded: (eventId: string) => boolean;
  /**
   * Seals personal data with the contact's key for the entry `eventId` (deterministic nonce
   * and salt from the id); undefined when the contact has no key (erased).
   */
  readonly seal: (
    eventId: string,
    plaintext: string,
  ) =>
    | {
        readonly sealed: NonNullable<EventData<"ConsentGranted">["sealed"]>;
        readonly personalDigest: string;
      }
    | undefined;
}

/** The name an input's entry for a purpose takes its deterministic event id from. */
export const entryName = (contactId: string, inputId: string, purpose: Purpose): string =>
  `consent:${contactId}:${inputId}:${purpose}`;

/** The input id a command records under, if it records anything (the context loader's lookups). */
export function recordedInputOf(
  command: ConsentCommand,
): { readonly inputId: string; readonly purpose: Purpose } | undefined {
  if (command.type === "EraseContact") return undefined;
  const intent = intentOf(command);
  const [purpose] = intent?.purposes ?? [];
  return intent === undefined || purpose === undefined
    ? undefined
    : { inputId: intent.inputId, purpose };
}

/** Meta's error.code for "the user stopped marketing messages from this business". */
export const MARKETING_STOPPED_BY_USER = 131_050;

/** A request the ledger refuses (a grant for an erased contact); never worth a retry. */
export class ConsentRefusedError extends ParleyError {
  override readonly name = "ConsentRefusedError";
  constructor(
    message: string,
    readonly reason: "erased" | "invalid",
  ) {
    super(message, { retry: "never" });
  }
}

interface Intent {
  readonly inputId: string;
  readonly decision: "granted" | "revoked";
  readonly purposes: readonly Purpose[];
  readonly occurredAt: string;
  readonly channel: Channel;
  readonly source: Source;
  readonly recordedBy: string;
  readonly sourceSystem?: string | undefined;
  readonly businessName?: string | undefined;
  readonly wording?:
    { readonly text?: string | undefined; readonly versionHash?: string | undefined } | undefined;
  readonly evidence?: Evidence | undefined;
  readonly expiresAt?: string | undefined;
  readonly correlationId?: string | undefined;
  readonly causationId?: string | undefined;
  readonly businessNumber?: string | undefined;
}

/** What an input asks of the ledger; undefined when it asks nothing (a preference not about consent). */
export function intentOf(command: Exclude<ConsentCommand, EraseContact>): Intent | undefined {
  switch (command.type) {
    case "RecordConsent":
      return command;
    case "KeywordReceived": {
      const e = command.event;
      return {
        inputId: `keyword:${e.data.wamid}`,
        decision: e.data.keyword === "stop" ? "revoked" : "granted",
        purposes: ["marketing", "utility"],
        occurredAt: e.occurredAt,
        channel: "whatsapp",
        source: "keyword",
        recordedBy: "consent",
        sourceSystem: "parley-router",
        evidence: { wamid: e.data.wamid, text: e.data.text },
        correlationId: e.correlationId,
        causationId: e.eventId,
        businessNumber: e.businessNumber,
      };
    }
    case "PreferencesUpdated": {
      const e = command.event;
      const choice = e.data.value.toLowerCase();
      if (choice !== "stop" && choice !== "resume" && choice !== "signup") return undefined;
      return {
        inputId: `preferences:${e.eventId}`,
        decision: choice === "stop" ? "revoked" : "granted",
        purposes: ["marketing"],
        occurredAt: e.occurredAt,
        channel: "whatsapp",
        source: "user_preferences",
        recordedBy: "consent",
        sourceSystem: "meta-user-preferences",
        evidence: {
          note: `${e.data.category}: ${e.data.value}${e.data.detail ? ` (${e.data.detail})` : ""}`,
        },
        correlationId: e.correlationId,
        causationId: e.eventId,
        businessNumber: e.businessNumber,
      };
    }
    case "MarketingRefused": {
      const e = command.event;
      if (e.data.error.code !== MARKETING_STOPPED_BY_USER) return undefined;
      return {
        inputId: `send-failure:${e.eventId}`,
        decision: "revoked",
        purposes: ["marketing"],
        occurredAt: e.data.statusAt ?? e.occurredAt,
        channel: "whatsapp",
        source: "send_failure",
        recordedBy: "consent",
        sourceSystem: "meta-cloud-api",
        evidence: {
          note: `Meta refused request ${e.data.requestId} with ${String(MARKETING_STOPPED_BY_USER)}${e.data.error.title ? ` (${e.data.error.title})` : ""}`,
          ...(e.data.wamid === undefined ? {} : { wamid: e.data.wamid }),
        },
        correlationId: e.correlationId,
        causationId: e.eventId,
        businessNumber: e.businessNumber,
      };
    }
  }
}

/** Appends the chain link to an entry built without one. */
function chained<E extends LedgerEntry>(
  entry: E,
  head: ReturnType<typeof chainHead>,
  ctx: LedgerContext,
): E {
  const unhashed = {
    ...entry,
    data: { ...entry.data, ledger: { sequence: head.sequence, previousHash: head.previousHash } },
  };
  const hash = ctx.sha256(ledgerBody(unhashed));
  return {
    ...entry,
    data: {
      ...entry.data,
      ledger: { sequence: head.sequence, previousHash: head.previousHash, hash },
    },
  };
}

function recordEntries(intent: Intent, state: LedgerState, ctx: LedgerContext): LedgerEntry[] {
  const [first] = intent.purposes;
  if (first === undefined || hasInput(state, intent.inputId)) return [];
  if (ctx.recorded(ctx.eventIdOf(entryName(state.contactId, intent.inputId, first)))) return [];
  if (state.erasedKeyIds !== undefined && intent.decision === "granted") {
    throw new ConsentRefusedError(
      "the contact was erased; an opt-in cannot be recorded for them",
      "erased",
    );
  }
  const out: LedgerEntry[] = [];
  let current = state;
  for (const purpose of intent.purposes) {
    const eventId = ctx.eventIdOf(entryName(state.contactId, intent.inputId, purpose));
    const versionHash =
      intent.wording?.versionHash ??
      (intent.wording?.text === undefined ? undefined : ctx.sha256(intent.wording.text));
    const personal =
      intent.evidence === undefined || Object.keys(intent.evidence).length === 0
        ? undefined
        : ctx.seal(eventId, JSON.stringify(intent.evidence));
    const data: EventData<"ConsentGranted"> = {
      contactId: state.contactId,
      scope: purpose === "marketing" ? "marketing" : "all",
      purpose,
      channel: intent.channel,
      source: intent.source,
      recordedBy: intent.recordedBy,
      inputId: intent.inputId,
      reason: "requested",
      ...(intent.sourceSystem === undefined ? {} : { sourceSystem: intent.sourceSystem }),
      ...(intent.businessName === undefined ? {} : { businessName: intent.businessName }),
      ...(versionHash === undefined
        ? {}
        : {
            wording: {
              versionHash,
              ...(intent.wording?.text === undefined ? {} : { text: intent.wording.text }),
            },
          }),
      ...(intent.expiresAt === undefined || intent.decision === "revoked"
        ? {}
        : { expiresAt: intent.expiresAt }),
      ...(personal === undefined
        ? {}
        : { sealed: personal.sealed, personalDigest: personal.personalDigest }),
    };
    const meta = {
      eventId,
      occurredAt: intent.occurredAt,
      now: ctx.now,
      correlationId: intent.correlationId ?? eventId,
      ...(intent.causationId === undefined ? {} : { causationId: intent.causationId }),
      ...(intent.businessNumber === undefined ? {} : { businessNumber: intent.businessNumber }),
    };
    const type = intent.decision === "granted" ? "ConsentGranted" : "ConsentRevoked";
    const deciding = decidingEntry(current, purpose);
    const superseded =
      deciding !== undefined && !outranks({ type, occurredAt: intent.occurredAt }, deciding);
    // The chain link is computed on the entry as built, then the entry is made (and checked
    // against its contract) once, link included: the producer need not check it again (a copy
    // of a checked event is checked in full), one schema check per entry instead of two.
    const { sequence, previousHash } = chainHead(current);
    const body = { ...data, ...(superseded ? { reason: "superseded" as const } : {}) };
    const hash = ctx.sha256(
      // (ledgerBody leaves `ledger.hash` out: the placeholder is not hashed)
      ledgerBody(buildEvent(type, { ...body, ledger: { sequence, previousHash, hash: "" } }, meta)),
    );
    const linked: ConsentEntry = createEvent(
      type,
      { ...body, ledger: { sequence, previousHash, hash } },
      meta,
    );
    out.push(linked);
    current = evolve(current, linked);
  }
  return out;
}

function eraseEntries(
  command: EraseContact,
  state: LedgerState,
  ctx: LedgerContext,
): LedgerEntry[] {
  if (state.erasedKeyIds !== undefined) return [];
  const out: LedgerEntry[] = [];
  let current = state;
  const append = (entry: LedgerEntry) => {
    const linked = chained(entry, chainHead(current), ctx);
    out.push(linked);
    current = evolve(current, linked);
  };
  // An erased person gets nothing more: every purpose not already revoked is revoked first, so
  // the gates (which know no erasure) refuse their sends.
  for (const purpose of purposes) {
    if (decidingEntry(current, purpose)?.type === "ConsentRevoked") continue;
    const eventId = ctx.eventIdOf(`consent:${state.contactId}:erase:${command.inputId}:${purpose}`);
    append(
      createEvent(
        "ConsentRevoked",
        {
          contactId: state.contactId,
          scope: purpose === "marketing" ? "marketing" : "all",
          purpose,
          channel: "other",
          source: "operator",
          recordedBy: command.requestedBy,
          inputId: `erase:${command.inputId}`,
          reason: "erased",
        },
        { eventId, occurredAt: ctx.now, now: ctx.now, correlationId: eventId },
      ),
    );
  }
  const eventId = ctx.eventIdOf(`consent:${state.contactId}:erase:${command.inputId}`);
  append(
    createEvent(
      "ContactErased",
      {
        contactId: state.contactId,
        keyIds: [...command.keyIds],
        destroyed: [
          ...command.keyIds.map((k) => `consent data key ${k} (sealed evidence of every entry)`),
          "the contact's send log (what was sent under which consent)",
        ],
        kept: [
          "the ledger entries without evidence: purpose, granted or revoked, when, channel, source",
          "the contact id as the consent topic's record key",
        ],
        requestedBy: command.requestedBy,
      },
      { eventId, occurredAt: ctx.now, now: ctx.now, correlationId: eventId },
    ),
  );
  return out;
}

/**
 * One contact's consent ledger (ADR 0012). Every input becomes one entry per purpose, hash
 * chained; an input older than the entry deciding its purpose is recorded as superseded and
 * changes nothing; a repeated input decides nothing; an erased contact gets no opt-in.
 */
export const ledgerDecider: Decider<LedgerState, ConsentCommand, LedgerEntry, LedgerContext> = {
  initialState,
  evolve,
  decide(command, state, ctx) {
    if (command.type === "EraseContact") return eraseEntries(command, state, ctx);
    const intent = intentOf(command);
    return intent === undefined ? [] : recordEntries(intent, state, ctx);
  },
};
