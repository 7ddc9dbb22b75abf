import { ledgerBody } from "../ledger/chain.js";
import { sha256Hex } from "../crypto/keys.js";

/** One line of an audit export: the ledger entry verbatim, and its evidence when it was opened. */
export interface ExportLine {
  readonly entry: {
    readonly type: string;
    readonly eventId: string;
    readonly occurredAt: string;
    readonly data: {
      readonly contactId: string;
      readonly personalDigest?: string;
      readonly ledger?: {
        readonly sequence: number;
        readonly previousHash: string | null;
        readonly hash: string;
      };
    };
  };
  /** The decrypted evidence and its salt; absent when the contact was erased or none was given. */
  readonly opened?: { readonly salt: string; readonly evidence: string };
}

export interface ChainProblem {
  /** 1-based line of the export. */
  readonly line: number;
  readonly detail: string;
}

export interface ChainReport {
  readonly ok: boolean;
  readonly entries: number;
  readonly contacts: number;
  readonly problems: readonly ChainProblem[];
}

const isLine = (value: unknown): value is ExportLine => {
  if (typeof value !== "object" || value === null || !("entry" in value)) return false;
  const entry = value.entry;
  if (typeof entry !== "object" || entry === null) return false;
  const e = entry as Record<string, unknown>;
  const data = e["data"];
  return (
    typeof e["type"] === "string" &&
    typeof e["eventId"] === "string" &&
    typeof e["occurredAt"] === "string" &&
    typeof data === "object" &&
    data !== null &&
    typeof (data as Record<string, unknown>)["contactId"] === "string"
  );
};

/**
 * Checks an export's hash chains: per contact, every entry's hash is the sha-256 of its body,
 * each links to the one before and the sequence has no gap (a period export may start past 1,
 * and says from where); opened evidence must match the entry's digest. Any changed, removed,
 * reordered or inserted entry makes it fail with the line and why (ADR 0012).
 */
export function verifyExport(lines: Iterable<string>): ChainReport {
  const problems: ChainProblem[] = [];
  const heads = new Map<string, { sequence: number; hash: string }>();
  let entries = 0;
  let n = 0;
  for (const text of lines) {
    n++;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      problems.push({ line: n, detail: "not JSON" });
      continue;
    }
    if (!isLine(value)) {
      problems.push({
        line: n,
        detail: "not an export line ({ entry: { type, eventId, occurredAt, data } })",
      });
      continue;
    }
    entries++;
    const { entry, opened } = value;
    const link = entry.data.ledger;
    if (link === undefined) {
      problems.push({ line: n, detail: `entry ${entry.eventId} has no ledger link` });
      continue;
    }
    const computed = sha256Hex(ledgerBody(entry));
    if (computed !== link.hash) {
      problems.push({
        line: n,
        detail: `entry ${entry.eventId}: its content does not match its hash`,
      });
    }
    const head = heads.get(entry.data.contactId);
    if (head === undefined) {
      if (link.sequence !== 1 && link.previousHash === null) {
        problems.push({
          line: n,
          detail: `entry ${entry.eventId}: sequence ${String(link.sequence)} without a previous hash`,
        });
      }
    } else {
      if (link.sequence !== head.sequence + 1) {
        problems.push({
          line: n,
          detail: `entry ${entry.eventId}: sequence ${String(link.sequence)} follows ${String(head.sequence)} (an entry is missing or out of order)`,
        });
      }
      if (link.previousHash !== head.hash) {
        problems.push({
          line: n,
          detail: `entry ${entry.eventId}: previous hash does not match the entry before`,
        });
      }
    }
    heads.set(entry.data.contactId, { sequence: link.sequence, hash: link.hash });
    if (
      opened !== undefined &&
      sha256Hex(opened.salt + opened.evidence) !== entry.data.personalDigest
    ) {
      problems.push({
        line: n,
        detail: `entry ${entry.eventId}: the evidence does not match its digest`,
      });
    }
  }
  return { ok: problems.length === 0, entries, contacts: heads.size, problems };
}
