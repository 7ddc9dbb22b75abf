import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ParleyError } from "@parley/errors";
import {
  checkKey,
  ObjectNotFoundError,
  StorageUnavailableError,
  type ObjectStore,
} from "../../storage/port.js";

const isMissing = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT";

function fsFailure(what: string, error: unknown): Error {
  const code =
    typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  // A full or read-only disk waits for an operator like an outage; anything else is a bug or a
  // refused path and is not retried.
  if (["ENOSPC", "EROFS", "EIO", "EMFILE", "ENFILE", "EAGAIN"].includes(code))
    return new StorageUnavailableError(`${what}: ${code}`, error);
  return new ParleyError(`${what}: ${code || String(error)}`, { retry: "never", cause: error });
}

/**
 * Objects as files under `root` (the default store, for `make dev`). A put writes a temporary
 * file beside the target, fsyncs it and renames it over the key: the object appears whole or not
 * at all, and a crash leaves only a `.tmp-*` file, which `put` of the same key never reads and
 * `sweepTemporary` removes.
 */
export function createFsObjectStore({ root }: { readonly root: string }): ObjectStore & {
  sweepTemporary(olderThanMs: number, now: number): Promise<number>;
} {
  const pathOf = (key: string): string => join(root, ...checkKey(key).split("/"));
  return {
    name: "filesystem",
    async put(key, body: Readable) {
      const target = pathOf(key);
      const tmp = `${target}.tmp-${randomBytes(6).toString("hex")}`;
      try {
        await mkdir(dirname(target), { recursive: true });
        const out = createWriteStream(tmp, { flags: "wx", mode: 0o600 });
        await pipeline(body, out);
        const handle = await open(tmp, "r");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        const { size } = await stat(tmp);
        await rename(tmp, target);
        return size;
      } catch (error) {
        await rm(tmp, { force: true }).catch(() => undefined);
        if (error instanceof ParleyError) throw error;
        // A failure of the body (the download) is the body's; only disk failures are mapped here.
        if (
          typeof error === "object" &&
          error !== null &&
          "code" in error &&
          typeof error.code === "string" &&
          /^E[A-Z]+$/.test(error.code) &&
          error.code !== "ECONNRESET" &&
          error.code !== "EPIPE"
        )
          throw fsFailure(`writing ${key}`, error);
        throw error;
      }
    },
    async get(key, range) {
      const path = pathOf(key);
      try {
        await stat(path);
      } catch (error) {
        if (isMissing(error)) throw new ObjectNotFoundError(key);
        throw fsFailure(`reading ${key}`, error);
      }
      return createReadStream(
        path,
        range === undefined ? {} : { start: range.start, end: range.end },
      );
    },
    async head(key) {
      try {
        return (await stat(pathOf(key))).size;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw fsFailure(`stat ${key}`, error);
      }
    },
    async delete(key) {
      try {
        await rm(pathOf(key), { force: true });
      } catch (error) {
        throw fsFailure(`deleting ${key}`, error);
      }
    },
    async *list(prefix) {
      const files = await readdir(root, { recursive: true, withFileTypes: true }).catch(
        (error: unknown) => {
          if (isMissing(error)) return [];
          throw fsFailure("listing", error);
        },
      );
      const keys = files
        .filter((f) => f.isFile() && !f.name.includes(".tmp-"))
        .map((f) => relative(root, join(f.parentPath, f.name)).split(sep).join("/"))
        .filter((k) => k.startsWith(prefix))
        .sort();
      yield* keys;
    },
    async sweepTemporary(olderThanMs, now) {
      const files = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
      let removed = 0;
      for (const f of files) {
        if (!f.isFile() || !f.name.includes(".tmp-")) continue;
        const path = join(f.parentPath, f.name);
        const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: now }));
        if (now - mtimeMs < olderThanMs) continue;
        await rm(path, { force: true });
        removed += 1;
      }
      return removed;
    },
  };
}
