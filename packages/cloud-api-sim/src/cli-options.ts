// Command-line and environment parsing of parley-cloud-api-sim, apart from cli.ts so it can be tested.
import { parseArgs } from "node:util";
import { createManualClock } from "./clock.js";
import {
  DEFAULT_APP_SECRET,
  DEFAULT_TOKEN,
  type AccessTokenConfig,
  type PhoneNumberConfig,
  type SimulatorOptions,
} from "./options.js";
import { createSimulator } from "./simulator.js";
import type { Simulator } from "./types.js";

export const HELP = `Usage: parley-cloud-api-sim [options]

  --port <n>                 listen port (default 4010)
  --host <addr>              listen address (default 127.0.0.1)
  --seed <s>                 seed for every random choice (default "parley")
  --webhook-url <url>        where webhooks are posted (repeatable); none = recorded only
  --waba-id <id>             WABA id of the default business
  --phone-number-id <id>     phone_number_id of the default business number
  --display-number <digits>  display number of the default business number
  --mps <n>                  throughput of the default business number in msg/s (default 80;
                             e.g. 1000 for an upgraded number, 20 for a coexistence number)
  --number <id>:<digits>[:<mps>]
                             one more business number in the default WABA (repeatable)
  --latency-ms <n>           answer every Graph request after n ms (fixed latency injection)
  --users <n>                create n simulated users who each say hello once (opens their window)
  --retry-time-scale <f>     multiply Meta's 7-day webhook retry schedule (default 0.001)
  --no-webhooks              accept sends without emitting any webhook (benchmarks)
  --manual-clock             time moves only when told: POST /_sim/clock/advance {"ms": n}
                             (starts at the current time; status delays, retries, windows and
                             media expiry all follow it)
  --config <file.json>       full SimulatorOptions as JSON (flags override it)
  --help

Environment:
  PARLEY_SIM_APP_SECRET      app secret used to sign webhooks (default "${DEFAULT_APP_SECRET}")
  PARLEY_SIM_ACCESS_TOKEN    the Bearer token accepted (default "${DEFAULT_TOKEN}")
  PARLEY_SIM_ACCESS_TOKENS   several tokens, each limited to some assets (phone number or WABA
                             ids): "tokA=106540352242922,tokB=106540352242923+102290129340398";
                             a token without "=" may use every asset. Replaces the single token.
  PARLEY_SIM_CONTROL_TOKEN   if set, /_sim requests need header x-sim-control-token
`;

/** A bad flag or environment value: the CLI prints it with the usage and exits 2. */
export class CliUsageError extends Error {}

function fail(message: string): never {
  throw new CliUsageError(message);
}

export interface CliConfig {
  readonly help: boolean;
  readonly port: number;
  readonly host: string;
  /** Simulated users who say hello at start. */
  readonly users: number;
  readonly controlToken: string | undefined;
  readonly options: SimulatorOptions;
  /** Where webhooks go (for the start-up line). */
  readonly webhookUrls: readonly string[];
  /** Run on a manual clock moved by POST /_sim/clock/advance. */
  readonly manualClock: boolean;
}

export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): CliConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        port: { type: "string" },
        host: { type: "string" },
        seed: { type: "string" },
        "webhook-url": { type: "string", multiple: true },
        "waba-id": { type: "string" },
        "phone-number-id": { type: "string" },
        "display-number": { type: "string" },
        mps: { type: "string" },
        number: { type: "string", multiple: true },
        "latency-ms": { type: "string" },
        users: { type: "string" },
        "retry-time-scale": { type: "string" },
        "no-webhooks": { type: "boolean" },
        "manual-clock": { type: "boolean" },
        config: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values;
  const fromFile: SimulatorOptions =
    v.config !== undefined ? (JSON.parse(readFile(v.config)) as SimulatorOptions) : {};
  const port = Number(v.port ?? "4010");
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail("--port must be 0..65535");
  const users = Number(v.users ?? "0");
  if (!Number.isInteger(users) || users < 0 || users > 1000) fail("--users must be 0..1000");
  const scale = Number(v["retry-time-scale"] ?? "0.001");
  if (!(scale >= 0)) fail("--retry-time-scale must be a non-negative number");

  const mps = v.mps === undefined ? undefined : Number(v.mps);
  if (mps !== undefined && !(Number.isInteger(mps) && mps >= 1))
    fail("--mps must be a positive integer");
  const latencyMs = v["latency-ms"] === undefined ? undefined : Number(v["latency-ms"]);
  if (latencyMs !== undefined && !(latencyMs >= 0)) fail("--latency-ms must be >= 0");
  const extraNumbers: PhoneNumberConfig[] = (v.number ?? []).map((spec) => {
    const [id, display, rate, ...more] = spec.split(":");
    const perNumber = rate === undefined ? undefined : Number(rate);
    if (
      id === undefined ||
      !/^\d+$/.test(id) ||
      display === undefined ||
      !/^\d{8,15}$/.test(display) ||
      more.length > 0 ||
      (perNumber !== undefined && !(Number.isInteger(perNumber) && perNumber >= 1))
    )
      fail(`--number ${spec}: expected <phone_number_id>:<display digits>[:<mps>]`);
    return {
      id,
      displayPhoneNumber: display,
      ...(perNumber !== undefined ? { throughputMps: perNumber } : {}),
    };
  });

  const appSecret = env["PARLEY_SIM_APP_SECRET"] ?? fromFile.appSecret ?? DEFAULT_APP_SECRET;
  const token = env["PARLEY_SIM_ACCESS_TOKEN"];
  const tokenList = env["PARLEY_SIM_ACCESS_TOKENS"];
  let accessTokens: AccessTokenConfig[] | undefined;
  if (tokenList !== undefined && tokenList.trim() !== "") {
    accessTokens = tokenList
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t.length > 0)
      .map((t) => {
        const eq = t.indexOf("=");
        if (eq === -1) return { token: t };
        const assets = t
          .slice(eq + 1)
          .split("+")
          .filter((a) => a.length > 0);
        if (eq === 0 || assets.length === 0)
          fail("PARLEY_SIM_ACCESS_TOKENS: expected token=asset[+asset...] entries");
        return { token: t.slice(0, eq), assets };
      });
  } else if (token !== undefined) accessTokens = [{ token }];
  const defaultBusiness = fromFile.businesses?.[0];
  const businesses =
    v["waba-id"] !== undefined ||
    v["phone-number-id"] !== undefined ||
    v["display-number"] !== undefined ||
    mps !== undefined ||
    extraNumbers.length > 0 ||
    !defaultBusiness
      ? [
          {
            wabaId: v["waba-id"] ?? defaultBusiness?.wabaId ?? "102290129340398",
            phoneNumbers: [
              {
                ...defaultBusiness?.phoneNumbers[0],
                id:
                  v["phone-number-id"] ?? defaultBusiness?.phoneNumbers[0]?.id ?? "106540352242922",
                displayPhoneNumber:
                  v["display-number"] ??
                  defaultBusiness?.phoneNumbers[0]?.displayPhoneNumber ??
                  "15550783881",
                ...(mps !== undefined ? { throughputMps: mps } : {}),
              },
              ...(defaultBusiness?.phoneNumbers.slice(1) ?? []),
              ...extraNumbers,
            ],
          },
          ...(fromFile.businesses?.slice(1) ?? []),
        ]
      : fromFile.businesses;

  const controlToken = env["PARLEY_SIM_CONTROL_TOKEN"];
  return {
    help: v.help === true,
    port,
    host: v.host ?? "127.0.0.1",
    users,
    controlToken: controlToken === "" ? undefined : controlToken,
    webhookUrls: v["webhook-url"] ?? fromFile.webhookUrls ?? [],
    manualClock: v["manual-clock"] === true,
    options: {
      ...fromFile,
      ...(v.seed !== undefined ? { seed: v.seed } : {}),
      appSecret,
      ...(accessTokens !== undefined ? { accessTokens } : {}),
      businesses,
      ...(v["webhook-url"] ? { webhookUrls: v["webhook-url"] } : {}),
      webhooks: {
        retryTimeScale: scale,
        ...fromFile.webhooks,
        ...(v["no-webhooks"] === true ? { enabled: false } : {}),
      },
      ...(latencyMs !== undefined
        ? { faults: { ...fromFile.faults, latency: { kind: "fixed", ms: latencyMs } } }
        : {}),
    },
  };
}

/** The simulator the CLI runs: a manual clock starts now and moves only by /_sim/clock/advance. */
export function simulatorFor(config: CliConfig, now = Date.now()): Simulator {
  return createSimulator({
    ...config.options,
    ...(config.manualClock ? { clock: createManualClock(now) } : {}),
  });
}
