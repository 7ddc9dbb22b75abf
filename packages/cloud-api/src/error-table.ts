/**
 * What a sender does after Graph refused a call (or, for codes that arrive by webhook, failed a
 * message after a 200). Decided from `error.code` alone, never from the HTTP status or the
 * message text (reference §2.2).
 *
 * - `retry`: transient on Meta's side; call again with exponential back-off and jitter, bounded.
 * - `pace-recipient`: the (business, user) pair limit; only this recipient waits (4^x s).
 * - `hold-number`: the whole number (its throughput, its app's or WABA's call budget, or a
 *   maintenance such as the throughput upgrade) refuses sends for a while: every send of the
 *   number waits, one probe call at a time, until Graph takes sends again. No request fails for it.
 * - `pause-number`: the access token is refused; stop the number and alert, a retry cannot help.
 * - `fail`: this message will not succeed as sent; the request fails (no call again).
 */
export type ErrorAction = "retry" | "pace-recipient" | "hold-number" | "pause-number" | "fail";

/**
 * The outcome classes of Graph failures: the same strings as `SendErrorClass` in
 * `@parley/contracts` (the sender checks at compile time that the two agree).
 */
export type GraphErrorClass =
  | "authentication"
  | "permission"
  | "throughput"
  | "pair_rate_limit"
  | "rate_limit"
  | "spam_limit"
  | "policy"
  | "invalid_request"
  | "recipient"
  | "window_closed"
  | "marketing_limit"
  | "opted_out_marketing"
  | "template"
  | "media"
  | "server"
  | "unknown";

/** One row of the Graph error table: everything Parley decides from an `error.code`. */
export interface GraphErrorRule {
  readonly code: number;
  /** Meta's meaning, in a few words. */
  readonly meaning: string;
  readonly action: ErrorAction;
  /** Calls at most for `retry` (the first included), where Meta says "once" or "limited". */
  readonly maxCalls?: number;
  readonly errorClass: GraphErrorClass;
  /** Where Meta reports it: the POST's answer, a `failed` status webhook after a 200, or both. */
  readonly arrives: "sync" | "async" | "both";
  /**
   * Whether a NEW request (a new idempotency key, the same content) may succeed later without
   * anybody fixing the content, the token, the app or the account first: what `retriable` on a
   * `SendFailed` error means. `retryHint` says why, and when.
   */
  readonly newRequestMaySucceed: boolean;
  readonly retryHint: string;
}

const FIX_REQUEST =
  "the request itself is wrong: a new request with the same content fails the same way";
const FIX_ACCOUNT =
  "the app, token or account must be fixed first; until then a new request fails the same way";
const TOKEN =
  "the access token was refused: the number's sends are parked until it works again (no request fails for it)";
const TRANSIENT = "Graph failed through every retry; a new request may succeed later";

type Arrives = GraphErrorRule["arrives"];
type Row = readonly [
  code: number,
  action: ErrorAction,
  errorClass: GraphErrorClass,
  arrives: Arrives,
  newRequestMaySucceed: boolean,
  meaning: string,
  retryHint: string,
  maxCalls?: number,
];

// One line per code, as in the reference's table.
// prettier-ignore
const rows: readonly Row[] = [
  // Authentication: the number stops (its sends are parked), an operator fixes the token.
  [0, "pause-number", "authentication", "sync", false, "could not authenticate", TOKEN],
  [190, "pause-number", "authentication", "sync", false, "access token expired or invalid", TOKEN],
  // Permissions and account state.
  [3, "fail", "permission", "sync", false, "API method or capability not available", FIX_ACCOUNT],
  [10, "fail", "permission", "sync", false, "permission denied", FIX_ACCOUNT],
  [131005, "fail", "permission", "sync", false, "access denied", FIX_ACCOUNT],
  [131042, "fail", "permission", "both", false, "business eligibility or payment method issue", FIX_ACCOUNT],
  [131045, "fail", "permission", "sync", false, "incorrect certificate (phone registration)", FIX_ACCOUNT],
  [133010, "fail", "permission", "sync", false, "business number not registered on Cloud API", FIX_ACCOUNT],
  // Number-level limits and maintenance: the whole number holds; no request fails for them.
  [4, "hold-number", "rate_limit", "sync", true, "the app hit its API call rate limit", "the app's call budget is spent; the number holds and sends again when Graph takes calls"],
  [80007, "hold-number", "rate_limit", "sync", true, "the WABA hit its Graph rate limit", "the WABA's hourly budget is spent; the number holds and sends again within the hour"],
  [130429, "hold-number", "throughput", "sync", true, "the number's message throughput was reached", "the number was over its messages per second; it holds for a moment and sends again"],
  [131057, "hold-number", "server", "sync", true, "account or number in maintenance (the throughput upgrade takes about a minute)", "the number is in maintenance; it holds until Graph takes sends again"],
  [133016, "fail", "rate_limit", "sync", true, "register or deregister rate limit", "too many registration attempts; a new request may succeed hours later"],
  // One recipient.
  [131056, "pace-recipient", "pair_rate_limit", "sync", true, "(business, consumer) pair rate limit hit", "this recipient got too many messages in a short time; a new request may succeed after a pause"],
  // Quality and policy: never retried, an operator looks.
  [131048, "fail", "spam_limit", "sync", false, "spam rate limit: many earlier messages blocked or flagged", "the number is restricted for low quality: pause the campaign and fix quality first"],
  [368, "fail", "policy", "sync", false, "temporarily blocked for policy violations", "the account is blocked for a policy violation: address it first"],
  [131031, "fail", "policy", "sync", false, "account locked", FIX_ACCOUNT],
  [130497, "fail", "policy", "sync", false, "WABA restricted from messaging users in this country", "the account may not message this country"],
  [131037, "fail", "policy", "sync", false, "display name not approved", FIX_ACCOUNT],
  [131063, "fail", "policy", "sync", false, "marketing templates disabled for Cloud API", FIX_ACCOUNT],
  [131064, "fail", "policy", "sync", false, "messaging limit imposed for template classification violations", FIX_ACCOUNT],
  // Meta's side, transient.
  [1, "retry", "server", "sync", true, "unknown: invalid request or possible server error", TRANSIENT, 2],
  [2, "retry", "server", "sync", true, "service temporarily down or overloaded", TRANSIENT],
  [131000, "retry", "server", "both", true, "something went wrong", TRANSIENT, 4],
  [131016, "retry", "server", "sync", true, "service temporarily unavailable", TRANSIENT],
  // The request.
  [33, "fail", "invalid_request", "sync", false, "parameter value not valid (e.g. a deleted business number)", FIX_REQUEST],
  [100, "fail", "invalid_request", "sync", false, "invalid parameter, or an object that does not exist (an expired media id)", FIX_REQUEST],
  [131008, "fail", "invalid_request", "sync", false, "required parameter missing", FIX_REQUEST],
  [131009, "fail", "invalid_request", "both", false, "parameter value not valid", FIX_REQUEST],
  [131051, "fail", "invalid_request", "sync", false, "unsupported message type", FIX_REQUEST],
  [135000, "fail", "invalid_request", "sync", false, "generic user error", FIX_REQUEST],
  // The recipient.
  [131021, "fail", "recipient", "sync", false, "recipient cannot be the sender", "the recipient is the business number itself"],
  [131026, "fail", "recipient", "both", false, "message undeliverable (not on WhatsApp, terms not accepted, old client)", "the recipient cannot receive WhatsApp messages from this number"],
  [131030, "fail", "recipient", "sync", false, "recipient not in the test number's allowed list", "add the recipient to the test number's allowed list first"],
  [131062, "fail", "recipient", "sync", false, "business-scoped user id not supported for this message", "send this message to the contact's phone number instead"],
  [131047, "fail", "window_closed", "both", false, "more than 24 h since the user's last message: free-form outside the service window", "the service window is closed: send a template (a request's templateFallback is sent once by itself)"],
  [131049, "fail", "marketing_limit", "both", true, "not delivered to keep the ecosystem healthy (per-user marketing limit, US marketing pause)", "the user's marketing limit was reached: a new request may succeed after 24 h (never to US +1 numbers)"],
  [131050, "fail", "opted_out_marketing", "both", false, "the user stopped marketing messages from this business", "the user opted out of marketing from this business"],
  [130472, "fail", "marketing_limit", "async", false, "the user is in a marketing experiment holdout", "Meta holds this user out of marketing messages"],
  // Media.
  [131052, "fail", "media", "async", false, "media download error (inbound)", FIX_REQUEST],
  [131053, "fail", "media", "both", false, "media upload error (type, codec, size or an unreachable link)", "fix the media (type, codec, size, link) first"],
  // Templates and flows.
  [132000, "fail", "template", "sync", false, "template parameter count mismatch", FIX_REQUEST],
  [132001, "fail", "template", "sync", false, "template does not exist in that language, or is not approved", "use an approved template and language"],
  [132005, "fail", "template", "sync", false, "template text too long after filling in parameters", FIX_REQUEST],
  [132007, "fail", "template", "sync", false, "template format or character policy violated", FIX_REQUEST],
  [132008, "fail", "template", "sync", false, "template parameter value invalid", FIX_REQUEST],
  [132012, "fail", "template", "sync", false, "template parameter format mismatch", FIX_REQUEST],
  [132015, "fail", "template", "both", false, "template paused for low quality, or a paced message dropped", "the template is paused: use another one, or wait until Meta reinstates it"],
  [132016, "fail", "template", "sync", false, "template disabled for good", "the template is disabled: use another one"],
  [132068, "fail", "template", "sync", false, "flow blocked", "the flow is blocked: fix it first"],
  [132069, "fail", "template", "sync", true, "flow throttled (10 sends per hour per flow)", "the flow is throttled: a new request may succeed within the hour"],
];

function ruleOf([code, action, errorClass, arrives, newRequest, meaning, hint, maxCalls]: Row) {
  const rule: GraphErrorRule = {
    code,
    meaning,
    action,
    errorClass,
    arrives,
    newRequestMaySucceed: newRequest,
    retryHint: hint,
    ...(maxCalls === undefined ? {} : { maxCalls }),
  };
  return rule;
}

const ruleByCode: ReadonlyMap<number, GraphErrorRule> = new Map(
  rows.map((row) => [row[0], ruleOf(row)]),
);

/** Every code of the table with its rule, in table order (documentation and per-code tests). */
export const graphErrorTable: readonly GraphErrorRule[] = [...ruleByCode.values()];

/**
 * The rule for a Graph `error.code`. Codes 200-299 (API permission) and 132xxx (templates) not
 * listed fail with their class. Unknown codes fail too: Cloud API has no idempotency key, so
 * guessing "retry" for a code we do not know risks a double send.
 */
export function classifyErrorCode(code: number): GraphErrorRule {
  const known = ruleByCode.get(code);
  if (known) return known;
  if (code >= 200 && code <= 299)
    return ruleOf([code, "fail", "permission", "sync", false, "API permission", FIX_ACCOUNT]);
  if (code >= 132000 && code <= 132999)
    return ruleOf([code, "fail", "template", "sync", false, "template error", FIX_REQUEST]);
  return ruleOf([
    code,
    "fail",
    "unknown",
    "sync",
    false,
    "a code Parley does not know",
    "Meta's code is not in Parley's table: look it up before sending again",
  ]);
}

/** True when the action means "calling again with the same request may succeed". */
export function isRetriableAction(action: ErrorAction): boolean {
  return action === "retry" || action === "pace-recipient" || action === "hold-number";
}
