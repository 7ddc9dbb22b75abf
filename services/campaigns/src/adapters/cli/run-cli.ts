import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";

export const USAGE = `usage: parley-campaigns create <definition.json>
       parley-campaigns upload <id> <audience.csv|audience.jsonl> [--format csv|jsonl]
       parley-campaigns forecast <id>
       parley-campaigns start|pause|resume|cancel <id>
       parley-campaigns status <id> [--watch] [--interval <seconds>]

Talks to the campaigns API (docs/campaigns-api.openapi.yaml) at PARLEY_CAMPAIGNS_URL
(default http://127.0.0.1:8094) with the API key or bearer JWT in PARLEY_CAMPAIGNS_TOKEN or in the
file named by PARLEY_CAMPAIGNS_TOKEN_FILE. upload streams the file (never read whole) with a
progress bar on bytes; status draws planned, sent, delivered and failed, and --watch redraws it
until the campaign is completed or cancelled.
Exit 0: done; 1: the API refused (its problem is printed); 64: wrong usage; 69: the API cannot
be reached; 77: the credentials were refused; 78: no credentials configured.`;

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch: typeof fetch;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stderr is a terminal: progress bars redraw in place. */
  readonly tty: boolean;
  readonly sleep: (ms: number) => Promise<void>;
}

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** A bar of `width` cells for `done` of `total`. */
export function bar(done: number, total: number, width = 30): string {
  const share = total <= 0 ? 0 : Math.min(1, done / total);
  const full = Math.round(share * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}] ${String(Math.round(share * 100)).padStart(3)} %`;
}

async function tokenOf(env: CliIo["env"]): Promise<string> {
  const direct = env["PARLEY_CAMPAIGNS_TOKEN"];
  if (direct !== undefined && direct.trim() !== "") return direct.trim();
  const file = env["PARLEY_CAMPAIGNS_TOKEN_FILE"];
  if (file !== undefined && file !== "") {
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (error) {
      throw new CliError(
        `cannot read PARLEY_CAMPAIGNS_TOKEN_FILE ${file} (${error instanceof Error ? error.message : String(error)}): point it at a file holding the API key or bearer JWT`,
        78,
      );
    }
  }
  throw new CliError(
    "no credentials: set PARLEY_CAMPAIGNS_TOKEN (an API key of CAMPAIGNS_API_KEYS or a bearer JWT) or PARLEY_CAMPAIGNS_TOKEN_FILE",
    78,
  );
}

interface Problem {
  readonly title?: string;
  readonly detail?: string;
  readonly errors?: readonly { field: string; detail: string }[];
}

/** One API call; a refusal becomes a CliError that says what to do next. */
async function call(
  io: CliIo,
  method: string,
  path: string,
  body?: {
    readonly data: string | ReadableStream<Uint8Array>;
    readonly type: string;
    readonly stream?: boolean;
  },
): Promise<unknown> {
  const base = (io.env["PARLEY_CAMPAIGNS_URL"] ?? "http://127.0.0.1:8094").replace(/\/+$/, "");
  const token = await tokenOf(io.env);
  let res: Response;
  try {
    // `duplex: "half"` streams a request body (undici); the DOM types do not name it.
    const init: RequestInit & { duplex?: "half" } = {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": body.type }),
      },
      ...(body === undefined ? {} : { body: body.data }),
      ...(body?.stream === true ? { duplex: "half" as const } : {}),
    };
    res = await io.fetch(`${base}${path}`, init);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach the campaigns API at ${base} (${cause?.code ?? cause?.message ?? String(error)}): is the campaigns service running with its API on (CAMPAIGNS_API_KEYS or API_JWT_*)? Set PARLEY_CAMPAIGNS_URL to its address`,
      69,
    );
  }
  const text = await res.text();
  const json: unknown = text === "" ? undefined : JSON.parse(text);
  if (res.ok) return json;
  const p = (json ?? {}) as Problem;
  const detail = [p.detail, ...(p.errors ?? []).map((e) => `${e.field}: ${e.detail}`)]
    .filter((d) => d !== undefined && d !== "")
    .join("; ");
  const what = `${String(res.status)} ${p.title ?? res.statusText}${detail === "" ? "" : `: ${detail}`}`;
  if (res.status === 401)
    throw new CliError(
      `${what}. The API refused the credentials: check PARLEY_CAMPAIGNS_TOKEN (an unexpired key of CAMPAIGNS_API_KEYS or a bearer JWT of the configured issuer)`,
      77,
    );
  if (res.status === 403)
    throw new CliError(
      `${what}. The key lacks the scope this command needs (campaigns:read, :write or :control): ask for a key with it`,
      77,
    );
  if (res.status === 503)
    throw new CliError(`${what}. The service is stopping or a dependency is down: retry`, 69);
  throw new CliError(what, 1);
}

const money = (n: number, currency: string) => `${n.toFixed(6).replace(/0{1,4}$/, "")} ${currency}`;

interface CostTableOut {
  currency: string;
  billable: number;
  free: number;
  unpriced: number;
  amount: number;
  lines: {
    market: string;
    category: string;
    billable: number;
    free: number;
    unpriced: number;
    amount: number;
  }[];
}

function printTable(io: CliIo, t: CostTableOut): void {
  for (const l of t.lines)
    io.out(
      `  ${l.market.padEnd(24)} ${l.category.padEnd(16)} billable ${String(l.billable).padStart(8)}  free ${String(l.free).padStart(8)}${l.unpriced > 0 ? `  unpriced ${String(l.unpriced)}` : ""}  ${money(l.amount, t.currency)}\n`,
    );
  io.out(
    `  total: ${money(t.amount, t.currency)} for ${String(t.billable)} billable, ${String(t.free)} free${t.unpriced > 0 ? `, ${String(t.unpriced)} without a rate` : ""}\n`,
  );
}

interface ProgressOut {
  campaign: { id: string; status?: string; pausedBy?: { reason: string; detail: string } };
  queued: number;
  plan?: {
    complete: boolean;
    finishAt: string;
    counters: { planned: number; skipped: Record<string, number> };
  };
  deliveries?: {
    sent: number;
    delivered: number;
    read: number;
    failed: number;
    failedByCode: Record<string, number>;
    cost?: CostTableOut;
  };
  forecast?: CostTableOut;
}

function statusLines(p: ProgressOut): string[] {
  const planned = p.plan?.counters.planned ?? 0;
  const d = p.deliveries ?? { sent: 0, delivered: 0, read: 0, failed: 0, failedByCode: {} };
  const skipped = Object.values(p.plan?.counters.skipped ?? {}).reduce((s, n) => s + n, 0);
  const lines = [
    `campaign ${p.campaign.id}: ${p.campaign.status ?? "?"}${p.campaign.pausedBy === undefined ? "" : ` (${p.campaign.pausedBy.reason}: ${p.campaign.pausedBy.detail})`}${p.plan === undefined ? "" : `, plan ${p.plan.complete ? "complete" : "running"}, finish ~${p.plan.finishAt}`}`,
    `  planned   ${String(planned).padStart(8)}  skipped ${String(skipped)}  queued ${String(p.queued)}`,
    `  sent      ${String(d.sent).padStart(8)} ${bar(d.sent, planned)}`,
    `  delivered ${String(d.delivered).padStart(8)} ${bar(d.delivered, planned)}  read ${String(d.read)}`,
    `  failed    ${String(d.failed).padStart(8)} ${bar(d.failed, planned)}${
      Object.keys(d.failedByCode).length === 0
        ? ""
        : `  ${Object.entries(d.failedByCode)
            .map(([c, n]) => `${c}: ${String(n)}`)
            .join(", ")}`
    }`,
  ];
  if (p.deliveries?.cost !== undefined || p.forecast !== undefined) {
    const cur = p.forecast?.currency ?? p.deliveries?.cost?.currency ?? "";
    lines.push(
      `  cost      ${p.deliveries?.cost === undefined ? "-" : money(p.deliveries.cost.amount, cur)} so far, forecast ${p.forecast === undefined ? "-" : money(p.forecast.amount, cur)}`,
    );
  }
  return lines;
}

const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The CLI; answers its exit code. Everything it touches comes through `io`. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const positional = rest.filter(
    (a, i) => !a.startsWith("--") && !(rest[i - 1] ?? "").match(/^--(format|interval)$/),
  );
  const flag = (name: string) => {
    const at = rest.indexOf(`--${name}`);
    return at < 0 ? undefined : (rest[at + 1] ?? "");
  };
  const usage = (why: string) => {
    io.err(`parley-campaigns: ${why}\n${USAGE}\n`);
    return 64;
  };
  const id = positional[0];
  const needId = (): string | undefined => (id !== undefined && ID.test(id) ? id : undefined);
  try {
    switch (command) {
      case "create": {
        if (id === undefined) return usage("create needs a definition file");
        let text: string;
        try {
          text = await readFile(id, "utf8");
        } catch (error) {
          throw new CliError(
            `cannot read ${id}: ${error instanceof Error ? error.message : String(error)}`,
            66,
          );
        }
        const created = (await call(io, "POST", "/v1/campaigns", {
          data: text,
          type: "application/json",
        })) as {
          id: string;
          status: string;
        };
        io.out(
          `created ${created.id} (${created.status}); next: parley-campaigns upload ${created.id} <audience>\n`,
        );
        return 0;
      }
      case "upload": {
        const cid = needId();
        const file = positional[1];
        if (cid === undefined || file === undefined)
          return usage("upload needs a campaign id and a file");
        const format = flag("format") ?? (file.endsWith(".csv") ? "csv" : "jsonl");
        if (format !== "csv" && format !== "jsonl") return usage("--format is csv or jsonl");
        let size: number;
        try {
          size = (await stat(file)).size;
        } catch (error) {
          throw new CliError(
            `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`,
            66,
          );
        }
        let sent = 0;
        let drawn = -1;
        const draw = (final = false) => {
          const pct = size === 0 ? 100 : Math.floor((sent / size) * 100);
          // On a terminal the last draw ends the line; in a log, a line already drawn is not repeated.
          if (pct === drawn && !(final && io.tty)) return;
          drawn = pct;
          const line = `upload ${bar(sent, size)} ${String(sent)}/${String(size)} bytes`;
          if (io.tty) io.err(`\r${line}${final ? "\n" : ""}`);
          else if (final || pct % 25 === 0) io.err(`${line}\n`);
        };
        const source = createReadStream(file, { highWaterMark: 256 * 1024 });
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            for await (const chunk of source as AsyncIterable<Buffer>) {
              sent += chunk.length;
              controller.enqueue(new Uint8Array(chunk));
              draw();
            }
            controller.close();
          },
        });
        const state = (await call(io, "PUT", `/v1/campaigns/${cid}/audience?format=${format}`, {
          data: body,
          type: format === "csv" ? "text/csv" : "application/x-ndjson",
          stream: true,
        })) as { audience?: { bytes: number } };
        draw(true);
        io.out(
          `uploaded ${String(state.audience?.bytes ?? sent)} bytes to ${cid}; next: parley-campaigns forecast ${cid}\n`,
        );
        return 0;
      }
      case "forecast": {
        const cid = needId();
        if (cid === undefined) return usage("forecast needs a campaign id");
        const f = (await call(io, "GET", `/v1/campaigns/${cid}/forecast`)) as {
          basis: string;
          forecast: CostTableOut & { recipients: number; category: string };
          skipped: Record<string, number>;
        };
        io.out(
          `forecast of ${cid} (${f.basis === "plan" ? "the recorded plan" : "a dry run of the plan"}): ${String(f.forecast.recipients)} recipients, ${f.forecast.category}\n`,
        );
        printTable(io, f.forecast);
        const skipped = Object.entries(f.skipped);
        if (skipped.length > 0)
          io.out(`  left out: ${skipped.map(([r, n]) => `${r} ${String(n)}`).join(", ")}\n`);
        return 0;
      }
      case "start":
      case "pause":
      case "resume":
      case "cancel": {
        const cid = needId();
        if (cid === undefined) return usage(`${command} needs a campaign id`);
        const s = (await call(io, "POST", `/v1/campaigns/${cid}/${command}`)) as { status: string };
        io.out(`${cid}: ${s.status}\n`);
        return 0;
      }
      case "status": {
        const cid = needId();
        if (cid === undefined) return usage("status needs a campaign id");
        const watch = rest.includes("--watch");
        const interval = Number(flag("interval") ?? 2);
        if (!Number.isFinite(interval) || interval <= 0)
          return usage("--interval is a number of seconds");
        let previous = 0;
        for (;;) {
          const p = (await call(io, "GET", `/v1/campaigns/${cid}`)) as ProgressOut;
          const lines = statusLines(p);
          if (watch && io.tty && previous > 0) io.out(`\x1b[${String(previous)}F\x1b[J`);
          io.out(`${lines.join("\n")}\n`);
          previous = lines.length;
          const status = p.campaign.status;
          if (!watch || status === "completed" || status === "cancelled") return 0;
          await io.sleep(interval * 1000);
        }
      }
      default:
        return usage(command === undefined ? "no command" : `unknown command ${command}`);
    }
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`parley-campaigns: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
