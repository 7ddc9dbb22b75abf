import { judgeToken, type TokenVerdict } from "../domain/token.js";
import type { SenderLogger } from "./dispatch-handler.js";
import type { GraphClient, TokenKeeper } from "./ports.js";

export interface TokenObserver {
  /** A number's token was checked: seconds left (Infinity: never expires; 0: expired) and validity. */
  tokenChecked(number: string, expiresInSeconds: number, valid: boolean): void;
}

const DAY_MS = 86_400_000;

/**
 * Each number's Graph token, watched: checked with `debug_token` at start, every `checkMs` and
 * after its file changed (expiry and validity become metrics; an operator is told which secret
 * to fix), and its file re-read when it changes on disk, so a rotated token is used without a
 * restart. A refused send still pauses only its number (dispatch-handler); `tokenChanged` lets
 * a number paused on its old token be probed with the new one at once.
 */
export function createTokenWatch({
  numbers,
  graph,
  keeper,
  clock,
  observer,
  logger,
  checkMs,
  filePollMs,
  warnDays,
  tokenChanged,
}: {
  numbers: () => readonly string[];
  graph: Pick<GraphClient, "inspectToken">;
  keeper: TokenKeeper;
  clock: () => number;
  observer: TokenObserver;
  logger: SenderLogger;
  checkMs: number;
  filePollMs: number;
  warnDays: number;
  tokenChanged: (number: string) => void;
}) {
  const timers: NodeJS.Timeout[] = [];
  const last = new Map<string, TokenVerdict["kind"]>();

  async function check(number: string): Promise<TokenVerdict | undefined> {
    const secret = keeper.secretOf(number);
    let verdict: TokenVerdict;
    try {
      verdict = judgeToken(await graph.inspectToken(number), clock(), warnDays * DAY_MS);
    } catch (error) {
      logger.warn(
        { businessNumber: number, configKey: secret, err: String(error) },
        "could not check the number's access token with Graph (debug_token); the next check tries again",
      );
      return undefined;
    }
    observer.tokenChecked(
      number,
      verdict.expiresInSeconds,
      verdict.kind === "valid" || verdict.kind === "expiring",
    );
    const was = last.get(number);
    last.set(number, verdict.kind);
    const days =
      verdict.expiresInSeconds === Number.POSITIVE_INFINITY
        ? "never"
        : (verdict.expiresInSeconds / 86_400).toFixed(1);
    if (verdict.kind === "invalid" || verdict.kind === "unusable")
      logger.error(
        {
          businessNumber: number,
          configKey: secret,
          reason: verdict.reason,
          alert: "GraphTokenInvalid",
        },
        `access token not usable: ${verdict.reason}; replace the secret ${secret ?? "(unknown)"} (runbook: docs/runbooks/graph-tokens.md)`,
      );
    else if (verdict.kind === "expiring")
      logger.warn(
        {
          businessNumber: number,
          configKey: secret,
          expiresInDays: days,
          alert: "GraphTokenExpiresSoon",
        },
        `access token expires in ${days} days: rotate the secret ${secret ?? "(unknown)"} (runbook: docs/runbooks/graph-tokens.md)`,
      );
    else if (was !== undefined && was !== "valid")
      logger.info(
        { businessNumber: number, configKey: secret, expiresInDays: days },
        "access token valid again",
      );
    return verdict;
  }

  async function checkAll(): Promise<void> {
    await Promise.all(numbers().map((n) => check(n)));
  }

  async function pollFiles(): Promise<void> {
    let changes;
    try {
      changes = await keeper.poll();
    } catch (error) {
      logger.warn({ err: String(error) }, "token files poll failed; next round retries");
      return;
    }
    for (const c of changes) {
      if (c.app === true) {
        // The app token asks debug_token about every number: on a change, every number again.
        if (!c.ok)
          logger.error(
            { configKey: c.where, file: c.path, problem: c.problem },
            `app token file could not be read again: ${c.problem}; the app token in use stays (fix ${c.where})`,
          );
        else {
          logger.info(
            { configKey: c.where, file: c.path },
            "app token file changed: debug_token uses the new app token from its next call",
          );
          await checkAll();
        }
        continue;
      }
      if (!c.ok) {
        logger.error(
          { businessNumber: c.number, configKey: c.where, file: c.path, problem: c.problem },
          `token file could not be read again: ${c.problem}; the token in use stays (fix ${c.where})`,
        );
        continue;
      }
      logger.info(
        { businessNumber: c.number, configKey: c.where, file: c.path },
        "access token file changed: the new token is in use from the next call",
      );
      tokenChanged(c.number);
      await check(c.number);
    }
  }

  return {
    check,
    checkAll,
    pollFiles,
    /** First check in the background (Graph may be slow); then the timers. */
    start(): void {
      void checkAll();
      if (checkMs > 0)
        timers.push(
          setInterval(() => {
            void checkAll();
          }, checkMs),
        );
      if (filePollMs > 0)
        timers.push(
          setInterval(() => {
            void pollFiles();
          }, filePollMs),
        );
    },
    stop(): void {
      for (const t of timers) clearInterval(t);
    },
  };
}
