import { chassisFields, env, infraFields } from "@parley/config";
import { numbersFields } from "@parley/numbers";
import { z } from "zod";

const MINUTE_MS = 60_000;

/** Every variable sender reads, with its type and default (README.md, "Configuration"). */
export const configSchema = z
  .object({
    ...infraFields,
    ...chassisFields,
    ...numbersFields,
    HTTP_PORT: env.port(8083),
    /** Prepended to every topic name (tests); production leaves it empty. */
    PARLEY_TOPIC_PREFIX: z.string().default(""),
    /** Graph API origin; point it at the Cloud API simulator in tests and local runs. */
    WA_GRAPH_BASE_URL: z.url({ protocol: /^https?$/ }).default("https://graph.facebook.com"),
    WA_GRAPH_VERSION: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like "v23.0"')
      .default("v23.0"),
    /** A Graph call with no answer after this long is in doubt (never resent). */
    SENDER_GRAPH_TIMEOUT_MS: env.int(10_000, { min: 100, max: 120_000 }),
    /** Keep-alive sockets to the Graph origin, shared by every number. */
    SENDER_GRAPH_CONNECTIONS: env.int(128, { min: 1, max: 1_024 }),
    /**
     * Dispatch records taken but unfinished before the consumer stops fetching; one partition of
     * the dispatch topic takes at most half (ADR 0006).
     */
    SENDER_MAX_IN_FLIGHT: env.int(2_000, { min: 1, max: 50_000 }),
    /**
     * How far ahead of its rate a number admits dispatches, in time at its cap (at least 8
     * dispatches): the rest of its backlog waits for admission in arrival order before its first
     * stage, not as handlers holding gate views and timers across the slot wait; 0: no bound
     * (issue 31, ADR 0006 "Admission").
     */
    SENDER_ADMIT_AHEAD_MS: env.int(500, { min: 0, max: 60_000 }),
    /**
     * Added to each number's one-second window, for the receiver's clock and rounding (its
     * stamps are in whole milliseconds): the rate log already holds each slot until a second
     * after the call's answer, whatever the transit (ADR 0006).
     */
    SENDER_RATE_MARGIN_MS: env.int(2, { min: 0, max: 500 }),
    /**
     * Each 130429 episode (Meta counted more than the cap in a second) widens that number's margin
     * by 5 ms, up to this (the rate ceiling is cap x 1,000 / (1,000 + max(margin, round trip)));
     * taken as at least `SENDER_RATE_MARGIN_MS`.
     */
    SENDER_RATE_MARGIN_MAX_MS: env.int(50, { min: 0, max: 500 }),
    /** After this long with no 130429, a widened margin steps back by 5 ms toward the configured one (0: never). */
    SENDER_RATE_MARGIN_RELAX_MS: env.int(10 * MINUTE_MS, { min: 0 }),
    /**
     * Sends are spread evenly over each second, and one may go up to this much before its place:
     * after a stall (a GC pause, a busy event loop, a slow MongoDB answer) the sender catches up
     * this much of the schedule at once instead of losing it. The exact one-second log guards the
     * cap whatever this is; 0 turns the spreading off (ADR 0006).
     */
    SENDER_RATE_SMOOTHING_MS: env.int(250, { min: 0, max: 1_000 }),
    /** Longest 4^x s back-off for one recipient after 131056. */
    SENDER_PAIR_MAX_BACKOFF_MS: env.int(30 * MINUTE_MS, { min: 1_000 }),
    /**
     * Longest wait between two probes of a number Graph holds (130429, 4, 80007, 131057): the
     * number's sends wait, one probe call at a time, until Graph takes sends again (ADR 0006).
     */
    SENDER_NUMBER_MAX_BACKOFF_MS: env.int(15 * MINUTE_MS, { min: 1_000 }),
    /** Graph calls per request for transient errors (5xx codes, refused connections), the first included. */
    SENDER_RETRY_ATTEMPTS: env.int(5, { min: 1, max: 20 }),
    SENDER_RETRY_INITIAL_MS: env.int(500, { min: 1 }),
    SENDER_RETRY_MAX_MS: env.int(30_000, { min: 1 }),
    /** Calls refused with 131056 (pair rate limit) for one request before it fails. */
    SENDER_MAX_PACED_ATTEMPTS: env.int(6, { min: 1, max: 20 }),
    /** An in-doubt request with no status webhook after this long ends as SendFailed (unknown). */
    SENDER_IN_DOUBT_TIMEOUT_MS: env.int(24 * 60 * MINUTE_MS, { min: 1_000 }),
    SENDER_IN_DOUBT_SWEEP_MS: env.int(MINUTE_MS, { min: 100 }),
    /** How often a paused number's token is tried again (GET on the number). */
    SENDER_PAUSE_PROBE_MS: env.int(MINUTE_MS, { min: 100 }),
    /**
     * A number that shares its dispatch partition with another number of the directory keeps at
     * most this many dispatches in memory; its next ones park in MongoDB and go out from there in
     * order, so its backlog never holds up the partition's other numbers. Taken as at most a
     * quarter of SENDER_MAX_IN_FLIGHT (half of one partition's share); 0 turns it off (ADR 0006).
     */
    SENDER_PARK_ABOVE: env.int(500, { min: 0, max: 50_000 }),
    /**
     * How often parked dispatches and outbox outcomes left by an earlier owner of this instance's
     * partitions are looked for.
     */
    SENDER_PARK_SWEEP_MS: env.int(5_000, { min: 100 }),
    /**
     * How long the reads every dispatch of a number waits for (its lane's rate and pacing seeds,
     * its park count) may go unanswered before the dispatches fail as an outage: retried, and the
     * next try reads again. 0: no bound (one reply lost on its way then stalls the number for good).
     */
    SENDER_STORE_READ_BOUND_MS: env.int(10_000, { min: 0, max: 600_000 }),
    /** A free-form send whose window looks closed is checked once more after this long (0: never). */
    SENDER_WINDOW_RECHECK_MS: env.int(250, { min: 0, max: 10_000 }),
    /**
     * Authentication templates are sent past an opt-out of everything (STOP), as Meta's policy
     * allows for a code the person asked for (ADR 0012); the router reads the same variable.
     * Default off.
     */
    PARLEY_AUTHENTICATION_EXEMPT: env.bool(false),
    /**
     * A send whose consent and window were read longer ago than this when its rate slot comes (a
     * backlog) reads them again just before the call, so an opt-out meanwhile stops it.
     */
    SENDER_GATE_RECHECK_AFTER_MS: env.int(1_000, { min: 0, max: 600_000 }),
    /**
     * How often each number's throughput level is read from Graph (GET fields=throughput), on top
     * of at start, after a maintenance hold and on quality webhooks; 0: only then (ADR 0006).
     */
    SENDER_THROUGHPUT_REFRESH_MS: env.int(15 * MINUTE_MS, { min: 0 }),
    /**
     * How often each number's token is checked with Graph's debug_token (besides at start and
     * after its file changed): its expiry and validity become metrics (0: only then).
     */
    SENDER_TOKEN_CHECK_MS: env.int(60 * MINUTE_MS, { min: 0 }),
    /**
     * The app token (`<app id>|<app secret>`; give it as GRAPH_APP_TOKEN_FILE=/path, never logged):
     * debug_token's caller as Meta documents it, the numbers' tokens being the input_token.
     * Unset: each number's token inspects itself (a system user's token may).
     */
    GRAPH_APP_TOKEN: z
      .string()
      .trim()
      .regex(/^\d{1,20}\|[A-Za-z0-9_-]{8,256}$/, "must be <app id>|<app secret> (an app token)")
      .optional(),
    /** How often token files (accessTokenFile) are looked at (stat) and re-read on change (0: never). */
    SENDER_TOKEN_FILE_POLL_MS: env.int(5_000, { min: 0 }),
    /** A token expiring within this many days is logged as a warning at each check. */
    SENDER_TOKEN_EXPIRY_WARN_DAYS: env.int(14, { min: 0, max: 365 }),
    /**
     * The media service (ADR 0013, "Outbound"): a message naming a Parley upload (`up_...`) has
     * it turned into the sending number's Graph media id there before the call. Unset: such a
     * message fails without a call (errorClass media). With MEDIA_API_KEY (or MEDIA_API_KEY_FILE).
     */
    MEDIA_API_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** A media API key with the scope send; never logged. */
    MEDIA_API_KEY: env.secret().optional(),
    /** Past this a media call counts as an outage and is tried again (a first send waits for its upload). */
    MEDIA_API_TIMEOUT_MS: env.int(60_000, { min: 100, max: 600_000 }),
    /**
     * Fault injection, for tests only (e2e/src/sender-outcomes-once.e2e.spec.ts): once this many
     * dispatch records have gone into the dispatch consumer's transactions, the process kills
     * itself (SIGKILL) after the next one's outcomes and offsets were sent, before it commits.
     * 0 (the default): never.
     */
    SENDER_KILL_BEFORE_COMMIT: env.int(0, { min: 0 }),
  })
  .superRefine((c, ctx) => {
    if ((c.MEDIA_API_URL === undefined) !== (c.MEDIA_API_KEY === undefined))
      ctx.addIssue({
        code: "custom",
        path: [c.MEDIA_API_URL === undefined ? "MEDIA_API_URL" : "MEDIA_API_KEY"],
        message: "the media service needs both MEDIA_API_URL and MEDIA_API_KEY",
      });
  });

export type Config = z.infer<typeof configSchema>;

/**
 * Checks a re-read GRAPH_APP_TOKEN_FILE as the configuration checked it at start: the token, or
 * an error naming the problem (never the content, a secret).
 */
export function appTokenParser(text: string): string {
  const parsed = configSchema.shape.GRAPH_APP_TOKEN.safeParse(text);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join("; "));
  if (parsed.data === undefined || parsed.data === "") throw new Error("holds no app token");
  return parsed.data;
}
