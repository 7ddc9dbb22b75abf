import { stat } from "node:fs/promises";
import { readAccessTokenFile, type NumberDirectory } from "@parley/numbers";
import type { TokenFileChange, TokenKeeper } from "../../sending/ports.js";

interface Watched {
  readonly number: string;
  readonly where: string;
  readonly path: string;
  /** What the last look saw (inode, size, change time): a new one means re-read. */
  seen: string | undefined;
}

const fingerprint = (s: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string =>
  `${String(s.ino)}:${String(s.size)}:${String(s.mtimeMs)}:${String(s.ctimeMs)}`;

/**
 * Each number's current Graph token: the directory's at start, then a token file's content again
 * whenever the file changed on disk (a stat per poll: inode, size and times, so an atomic rename
 * and a Kubernetes secret's symlink swap are seen as well as an edit in place). A file that
 * cannot be read or holds no token keeps the token in use and is reported.
 */
export function createTokenFiles(directory: NumberDirectory): TokenKeeper {
  const tokens = new Map(directory.numbers.map((n) => [n.phoneNumberId, n.accessToken]));
  const watched: Watched[] = directory.numbers.flatMap((n) =>
    n.tokenSource.kind === "file"
      ? [
          {
            number: n.phoneNumberId,
            where: n.tokenSource.where,
            path: n.tokenSource.path,
            seen: undefined,
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
      const n = directory.get(number);
      if (!n) return undefined;
      const s = n.tokenSource;
      return s.kind === "file"
        ? `${s.where} (${s.path})`
        : s.kind === "env"
          ? `${s.where} (${s.name})`
          : s.where;
    },
    async poll() {
      const changes: TokenFileChange[] = [];
      for (const w of watched) {
        let seen: string;
        try {
          seen = fingerprint(await stat(w.path));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
          // A missing file is reported once per disappearance, not at every poll.
          if (w.seen !== "missing")
            changes.push({ ...w, ok: false, problem: `cannot read ${w.path} (${code})` });
          w.seen = "missing";
          continue;
        }
        if (seen === w.seen) continue;
        w.seen = seen;
        try {
          const token = readAccessTokenFile(w.path, w.where);
          if (token === tokens.get(w.number)) continue;
          tokens.set(w.number, token);
          changes.push({ number: w.number, where: w.where, path: w.path, ok: true });
        } catch (error) {
          changes.push({
            number: w.number,
            where: w.where,
            path: w.path,
            ok: false,
            problem: String(error),
          });
        }
      }
      return changes;
    },
  };
}
