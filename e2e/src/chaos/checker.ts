// The chaos checker (issue 26): reads a history (what the simulated Meta saw and answered, every
// topic, the read models and their rebuild) and checks Parley's promises over all of it at once,
// in the manner of Jepsen's checkers: the load and the faults are free to do anything, the
// history must still satisfy every invariant. Pure: the collection lives in history.ts, so the
// checker's own test can feed it deliberately broken histories.

/** One item of a webhook: an inbound message, or one status of an outbound message. */
export type WebhookItem =
  | { readonly kind: "message"; readonly wamid: string }
  | { readonly kind: "status"; readonly wamid: string; readonly status: string };

/** A webhook POST the simulator made, and what ingress answered. */
export interface Delivery {
  readonly deliveryId: number;
  readonly attempt: number;
  /** The HTTP status, or why there was none. 200 means acknowledged: it must never be lost. */
  readonly outcome: number | "network-error" | "dropped";
  readonly items: readonly WebhookItem[];
}

/** A typed event read from the inbound-messages or statuses topic. */
export type TypedEvent = WebhookItem & { readonly eventId: string };

/** A message the simulated Graph accepted (a Graph send). */
export interface GraphSend {
  readonly wamid: string;
  readonly phoneNumberId: string;
  readonly waId: string;
  readonly acceptedAt: number;
  /** biz_opaque_callback_data: the request id Parley set on the call. */
  readonly requestId: string | undefined;
}

/** An event read from the send-outcomes topic. */
export interface OutcomeEvent {
  readonly eventId: string;
  readonly type:
    | "SendAccepted"
    | "SendRejected"
    | "SendFailed"
    | "SendExpired"
    | "SendInDoubt"
    | "SendReconciled"
    | "SendDeduplicated";
  readonly requestId: string;
  /** SendFailed only. */
  readonly phase?: "sync" | "async";
  /** Set on the outcome of a late template fallback (ADR 0009). */
  readonly fallbackAfter?: boolean;
}

/** The simulator's pair-pacing check of one (business number, recipient) pair. */
export interface PairPacingRecord {
  readonly phoneNumberId: string;
  readonly waId: string;
  /** Acceptance times that broke the pair pacing rule. */
  readonly overLimitAt: readonly number[];
}

export interface ReadModelComparison {
  readonly name: string;
  /** The documents as the running projection left them (volatile fields removed). */
  readonly live: readonly unknown[];
  /** The same read model rebuilt from Kafka from scratch. */
  readonly rebuilt: readonly unknown[];
}

/** A dependency that went away and came back: the consumers behind it must catch up. */
export interface Recovery {
  readonly label: string;
  /** Largest consumer lag (records) seen while it was away. */
  readonly peakLag: number;
  /** Milliseconds from its return until the lag was back to 0; undefined: never. */
  readonly caughtUpMs: number | undefined;
}

/** What a scan of the run's logs found (log-scan.ts): secrets, unmasked phone numbers. */
export interface LogScan {
  readonly files: number;
  readonly bytes: number;
  readonly findings: readonly string[];
}

export interface ChaosHistory {
  readonly deliveries: readonly Delivery[];
  readonly typed: readonly TypedEvent[];
  /** Request ids of every SendRequested appended. */
  readonly requests: readonly string[];
  readonly graphSends: readonly GraphSend[];
  readonly outcomes: readonly OutcomeEvent[];
  /** Messages per second each business number is configured for. */
  readonly caps: Readonly<Record<string, number>>;
  readonly pairPacing: readonly PairPacingRecord[];
  readonly readModels: readonly ReadModelComparison[];
  readonly recoveries: readonly Recovery[];
  readonly logScan?: LogScan;
}

export interface CheckRow {
  readonly check: string;
  readonly observed: string;
  readonly expected: string;
  readonly ok: boolean;
  /** The first offending items, for the log (at most 10). */
  readonly examples: readonly string[];
}

export interface ChaosReport {
  readonly ok: boolean;
  readonly rows: readonly CheckRow[];
}

const EXAMPLES = 10;
const itemKey = (i: WebhookItem): string =>
  i.kind === "message" ? `message ${i.wamid}` : `status ${i.wamid} ${i.status}`;
const row = (
  check: string,
  observed: string,
  expected: string,
  offending: readonly string[],
): CheckRow => ({
  check,
  observed,
  expected,
  ok: offending.length === 0,
  examples: offending.slice(0, EXAMPLES),
});

/** Every item of an acknowledged webhook has a typed event; none has two (different ids). */
function webhooks(history: ChaosHistory): CheckRow[] {
  const acked = new Set<string>();
  for (const d of history.deliveries)
    if (d.outcome === 200) for (const i of d.items) acked.add(itemKey(i));
  const ids = new Map<string, Set<string>>();
  for (const e of history.typed) {
    const k = itemKey(e);
    let s = ids.get(k);
    if (!s) ids.set(k, (s = new Set()));
    s.add(e.eventId);
  }
  const missing = [...acked].filter((k) => !ids.has(k));
  const duplicated = [...ids].filter(([, s]) => s.size > 1).map(([k]) => k);
  return [
    row(
      "webhooks acknowledged vs typed events",
      `${String(acked.size)} acked items, ${String(ids.size)} typed, ${String(missing.length)} missing`,
      "0 missing",
      missing,
    ),
    row(
      "typed events per webhook item",
      `${String(duplicated.length)} items with more than one event`,
      "0 (Meta's retries dedupe)",
      duplicated,
    ),
  ];
}

/** At most one Graph send per request; every send names its request. */
function graphSends(history: ChaosHistory): CheckRow {
  const perRequest = new Map<string, number>();
  const unattributed: string[] = [];
  for (const s of history.graphSends) {
    if (s.requestId === undefined) unattributed.push(`wamid ${s.wamid} has no request id`);
    else perRequest.set(s.requestId, (perRequest.get(s.requestId) ?? 0) + 1);
  }
  const over = [...perRequest]
    .filter(([, n]) => n > 1)
    .map(([r, n]) => `request ${r}: ${String(n)} Graph sends`);
  return row(
    "Graph sends per request",
    `${String(history.graphSends.length)} sends for ${String(perRequest.size)} requests, ${String(over.length)} over one, ${String(unattributed.length)} without request`,
    "0 over one",
    [...over, ...unattributed],
  );
}

const PRIMARY: ReadonlySet<OutcomeEvent["type"]> = new Set([
  "SendAccepted",
  "SendRejected",
  "SendExpired",
  "SendReconciled",
  "SendDeduplicated",
]);
/**
 * A request's terminal answer (ADR 0009): the one outcome that is not an in-doubt notice, not an
 * asynchronous failure and not a template fallback's (those supersede an acceptance, they do not
 * add an answer). The same record read twice (same event id) is one outcome.
 */
const isPrimary = (o: OutcomeEvent): boolean =>
  o.fallbackAfter !== true &&
  (PRIMARY.has(o.type) || (o.type === "SendFailed" && o.phase !== "async"));

function outcomes(history: ChaosHistory): CheckRow[] {
  const byRequest = new Map<string, OutcomeEvent[]>();
  for (const o of history.outcomes) {
    let list = byRequest.get(o.requestId);
    if (!list) byRequest.set(o.requestId, (list = []));
    list.push(o);
  }
  const terminal = (requestId: string): Set<string> =>
    new Set((byRequest.get(requestId) ?? []).filter(isPrimary).map((o) => o.eventId));
  const requested = new Set(history.requests);
  const none: string[] = [];
  const several: string[] = [];
  for (const r of requested) {
    const n = terminal(r).size;
    if (n === 0) none.push(`request ${r}: no terminal outcome`);
    else if (n > 1) several.push(`request ${r}: ${String(n)} terminal outcomes`);
  }
  const unknown = [...byRequest.keys()]
    .filter((r) => !requested.has(r))
    .map((r) => `outcome for request ${r}, never requested`);
  const inDoubt = [...byRequest]
    .filter(([, list]) => list.some((o) => o.type === "SendInDoubt"))
    .map(([r]) => r);
  const unreconciled = inDoubt
    .filter((r) => terminal(r).size === 0)
    .map((r) => `request ${r}: in doubt, never reconciled`);
  return [
    row(
      "requests without exactly one terminal outcome",
      `${String(requested.size)} requests: ${String(none.length)} without, ${String(several.length)} with several, ${String(unknown.length)} outcomes of unknown requests`,
      "0",
      [...none, ...several, ...unknown],
    ),
    row(
      "in-doubt sends, each reconciled",
      `${String(inDoubt.length)} in doubt${inDoubt.length > 0 ? ` (${inDoubt.slice(0, 5).join(", ")}${inDoubt.length > 5 ? ", …" : ""})` : ""}, ${String(unreconciled.length)} unreconciled`,
      "0 unreconciled",
      unreconciled,
    ),
  ];
}

/** No business number over its cap in any one-second window (sliding, by acceptance time). */
function windows(history: ChaosHistory): CheckRow {
  const byNumber = new Map<string, number[]>();
  for (const s of history.graphSends) {
    let t = byNumber.get(s.phoneNumberId);
    if (!t) byNumber.set(s.phoneNumberId, (t = []));
    t.push(s.acceptedAt);
  }
  const over: string[] = [];
  let maxSeen = 0;
  for (const [number, times] of byNumber) {
    const cap = history.caps[number];
    if (cap === undefined) {
      over.push(`number ${number}: sends but no configured cap`);
      continue;
    }
    times.sort((a, b) => a - b);
    let start = 0;
    let windowsOver = 0;
    let worst = 0;
    for (let end = 0; end < times.length; end++) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= 1_000) start++;
      const inWindow = end - start + 1;
      worst = Math.max(worst, inWindow);
      if (inWindow > cap) windowsOver++;
    }
    maxSeen = Math.max(maxSeen, worst);
    if (windowsOver > 0)
      over.push(
        `number ${number}: ${String(windowsOver)} windows over ${String(cap)}/s (max ${String(worst)})`,
      );
  }
  return row(
    "per-number one-second windows over the cap",
    `${String(over.length)} numbers over, max ${String(maxSeen)} in any second`,
    "0",
    over,
  );
}

function pairPacing(history: ChaosHistory): CheckRow {
  const bad = history.pairPacing.filter((p) => p.overLimitAt.length > 0);
  const count = bad.reduce((n, p) => n + p.overLimitAt.length, 0);
  return row(
    "pair-pacing violations",
    `${String(count)} sends over the pacing in ${String(bad.length)} of ${String(history.pairPacing.length)} pairs`,
    "0",
    bad.map((p) => `${p.phoneNumberId} -> ${p.waId}: ${String(p.overLimitAt.length)} over`),
  );
}

/** Order-free comparison: documents as canonical JSON (keys sorted), counted. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return value === undefined ? "undefined" : JSON.stringify(value);
}

/** The first document (by `_id`) whose live and rebuilt versions differ: its differing fields. */
function firstDifference(
  live: readonly unknown[],
  rebuilt: readonly unknown[],
): string | undefined {
  const byId = (docs: readonly unknown[]) =>
    new Map(
      docs.map((d) => [canonical((d as { _id?: unknown })._id), d as Record<string, unknown>]),
    );
  const rebuiltById = byId(rebuilt);
  for (const [id, l] of byId(live)) {
    const r = rebuiltById.get(id);
    if (r === undefined) return `_id ${id} only live`;
    const keys = [...new Set([...Object.keys(l), ...Object.keys(r)])].sort();
    const fields = keys.filter((k) => canonical(l[k]) !== canonical(r[k]));
    if (fields.length > 0)
      return `_id ${id}: ${fields
        .map(
          (k) =>
            `${k} live ${canonical(l[k]).slice(0, 300)} rebuilt ${canonical(r[k]).slice(0, 300)}`,
        )
        .join("; ")}`;
  }
  return undefined;
}

/** Which fields differ, over every document present in both (a difference in `trace` alone is not one in the facts). */
function differingFields(live: readonly unknown[], rebuilt: readonly unknown[]): string {
  const byId = (docs: readonly unknown[]) =>
    new Map(
      docs.map((d) => [canonical((d as { _id?: unknown })._id), d as Record<string, unknown>]),
    );
  const rebuiltById = byId(rebuilt);
  const fields = new Map<string, number>();
  for (const [id, l] of byId(live)) {
    const r = rebuiltById.get(id);
    if (r === undefined) continue;
    for (const k of new Set([...Object.keys(l), ...Object.keys(r)]))
      if (canonical(l[k]) !== canonical(r[k])) fields.set(k, (fields.get(k) ?? 0) + 1);
  }
  return [...fields]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} in ${String(n)}`)
    .join(", ");
}

function readModels(history: ChaosHistory): CheckRow {
  const differing: string[] = [];
  for (const m of history.readModels) {
    const count = new Map<string, number>();
    for (const d of m.live) count.set(canonical(d), (count.get(canonical(d)) ?? 0) + 1);
    for (const d of m.rebuilt) count.set(canonical(d), (count.get(canonical(d)) ?? 0) - 1);
    const diff = [...count].filter(([, n]) => n !== 0);
    if (diff.length > 0)
      differing.push(
        `${m.name}: ${String(diff.length)} documents differ (live ${String(m.live.length)}, rebuilt ${String(m.rebuilt.length)}), e.g. ${(diff[0]?.[0] ?? "").slice(0, 200)}${((d) => (d === undefined ? "" : `; first difference: ${d}`))(firstDifference(m.live, m.rebuilt))}${((f) => (f === "" ? "" : `; fields differing: ${f}`))(differingFields(m.live, m.rebuilt))}`,
      );
  }
  const docs = history.readModels.reduce((n, m) => n + m.live.length, 0);
  return row(
    "read models vs a rebuild",
    `${String(history.readModels.length)} models, ${String(docs)} documents, ${String(differing.length)} differ`,
    "equal",
    differing,
  );
}

function recoveries(history: ChaosHistory): CheckRow[] {
  return history.recoveries.map((r) =>
    row(
      `caught up after: ${r.label}`,
      r.caughtUpMs === undefined
        ? `peak lag ${String(r.peakLag)}, never caught up`
        : `peak lag ${String(r.peakLag)}, lag 0 after ${(r.caughtUpMs / 1_000).toFixed(1)} s`,
      "lag back to 0",
      r.caughtUpMs === undefined ? [`${r.label}: never caught up`] : [],
    ),
  );
}

function logs(scan: LogScan | undefined): CheckRow[] {
  if (scan === undefined) return [];
  return [
    row(
      "secrets and unmasked phone numbers in logs",
      `${String(scan.files)} logs, ${(scan.bytes / 1_048_576).toFixed(1)} MB, ${String(scan.findings.length)} findings`,
      "0",
      scan.findings,
    ),
  ];
}

/** Checks every promise over the whole history. */
export function checkHistory(history: ChaosHistory): ChaosReport {
  const rows = [
    ...webhooks(history),
    graphSends(history),
    ...outcomes(history),
    windows(history),
    pairPacing(history),
    readModels(history),
    ...recoveries(history),
    ...logs(history.logScan),
  ];
  return { ok: rows.every((r) => r.ok), rows };
}

/** The report as a Markdown table, then the offending examples of each failed row. */
export function formatReport(report: ChaosReport): string {
  const header = ["check", "observed", "expected", "result"];
  const lines = report.rows.map((r) => [r.check, r.observed, r.expected, r.ok ? "pass" : "FAIL"]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const out = [fmt(header), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)];
  for (const r of report.rows)
    if (!r.ok) out.push("", `${r.check}:`, ...r.examples.map((e) => `  - ${e}`));
  return out.join("\n");
}
