import { readFileSync } from "node:fs";
import { NumberDirectoryError, readAccessTokenFile, type NumberDirectory } from "@parley/numbers";
import type { TokenFileChange, TokenKeeper } from "../../sending/ports.js";

interface Watched {
  readonly number: string;
  readonly where: string;
  readonly path: string;
  /** The problem the last look reported, so a broken file is reported once, not at every poll. */
  problem: string | undefined;
}

/**
 * Each number's current Graph token: the directory's at start, then a token file's content
 * again whenever it differs from the token in use. Every poll reads each token file (a few
 * hundred bytes): a comparison of contents sees an edit in place, an atomic rename and a
 * Kubernetes secret's symlink swap alike, where a stat of times and sizes can miss a same-size
 * rewrite within the file system's timestamp granularity. A file that cannot be read or holds
 * no token keeps the token in use and is reported once per distinct problem.
 */
export function createTokenFiles(
  directory: NumberDirectory,
  app?: {
    /** GRAPH_APP_TOKEN as loaded at start. */
    readonly token: string | undefined;
    /** GRAPH_APP_TOKEN_FILE, re-read at each poll like the numbers' token files. */
    readonly file?: string | undefined;
    /** Checks the file's content as the configuration does; throws naming the problem. */
    readonly parse: (text: string) => string;
  },
): TokenKeeper {
  let appToken = app?.token;
  const appWatch: { problem: string | undefined } = { problem: undefined };
  const tokens = new Map(directory.numbers.map((n) => [n.phoneNumberId, n.accessToken]));
  const watched: Watched[] = directory.numbers.flatMap((n) =>
    n.tokenSource.kind === "file"
      ? [
          {
            number: n.phoneNumberId,
            where: n.tokenSource.where,
            path: n.tokenSource.path,
            problem: undefined,
          },
        ]
      : [],
  );

  return {
    token(number) {
      const t = tokens.get(number);
      if (t === undefined) throw new Error(`business number ${number} is not in the directory`);
      return t;
    },
    secretOf(number) {
      const s = directory.get(number)?.tokenSource;
      if (!s) return undefined;
      return s.kind === "file"
        ? `${s.where} (${s.path})`
        : s.kind === "env"
          ? `${s.where} (${s.name})`
          : s.where;
    },
    appToken: () => appToken,
    poll() {
      const changes: TokenFileChange[] = [];
      if (app?.file !== undefined) {
        const { file: path } = app;
        const where = "GRAPH_APP_TOKEN_FILE";
        try {
          const token = app.parse(readFileSync(path, "utf8"));
          appWatch.problem = undefined;
          if (token !== appToken) {
            appToken = token;
            changes.push({ number: "", where, path, ok: true, app: true });
          }
        } catch (error) {
          const problem = `${where}: ${path}: ${error instanceof Error ? error.message : String(error)}`;
          if (problem !== appWatch.problem)
            changes.push({ number: "", where, path, ok: false, problem, app: true });
          appWatch.problem = problem;
        }
      }
      for (const w of watched) {
        const { number, where, path } = w;
        let token: string;
        try {
          token = readAccessTokenFile(path, where);
        } catch (error) {
          const problem =
            error instanceof NumberDirectoryError ? error.problems.join("; ") : String(error);
          if (problem !== w.problem) changes.push({ number, where, path, ok: false, problem });
          w.problem = problem;
          continue;
        }
        w.problem = undefined;
        if (token === tokens.get(number)) continue;
        tokens.set(number, token);
        changes.push({ number, where, path, ok: true });
      }
      return Promise.resolve(changes);
    },
  };
}
