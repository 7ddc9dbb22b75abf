import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ParleyError } from "@parley/errors";
import { audienceQuery, type AudienceQuery } from "../../audience/query.js";
import { readAudience, type AudienceFormat } from "../../audience/read.js";
import type { AudienceFiles } from "../../control/ports.js";
import type { AudienceRow } from "../../domain/plan.js";

/** A query audience while the service has no projection to read it from. */
export class NoProjectionError extends ParleyError {
  override readonly name = "NoProjectionError";
  constructor() {
    super(
      "a query audience needs the projection's query API (CAMPAIGNS_PROJECTION_URL and CAMPAIGNS_PROJECTION_API_KEY)",
      { retry: "never" },
    );
  }
}

/** An upload over the configured size: refused whole (HTTP 413). */
export class AudienceTooLargeError extends ParleyError {
  override readonly name = "AudienceTooLargeError";
  constructor(readonly limit: number) {
    super(`the audience is over ${limit} bytes (CAMPAIGNS_AUDIENCE_MAX_BYTES)`, { retry: "never" });
  }
}

/**
 * Audiences on the filesystem under `dir`, one file per campaign: written to a temporary name and
 * renamed once complete (a cut upload leaves nothing), streamed both ways, never whole in memory.
 */
export function createAudienceFiles({
  dir,
  query,
}: {
  dir: string;
  /** The members of a query audience (the projection's query API), row by row. */
  query?: ((q: AudienceQuery & { at: string }) => AsyncIterable<AudienceRow>) | undefined;
}): AudienceFiles {
  /** A stored query (saved validated, with `at` pinned), read again for each plan. */
  async function* queryRows(ref: string): AsyncGenerator<AudienceRow> {
    if (query === undefined) throw new NoProjectionError();
    const q = audienceQuery.parse(JSON.parse(await readFile(join(dir, ref), "utf8")));
    yield* query({ ...q, at: q.at ?? new Date(0).toISOString() });
  }
  return {
    async save(campaignId, body, maxBytes) {
      await mkdir(dir, { recursive: true });
      const ref = `${campaignId}.audience`;
      const temp = join(dir, `${ref}.${process.pid}.${Date.now()}.part`);
      let bytes = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          if (bytes > maxBytes) done(new AudienceTooLargeError(maxBytes));
          else done(null, chunk);
        },
      });
      try {
        await pipeline(body, count, createWriteStream(temp, { flags: "wx" }));
        await rename(temp, join(dir, ref));
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return { ref, bytes };
    },
    rows: (ref: string, format: AudienceFormat) =>
      format === "query"
        ? queryRows(ref)
        : readAudience(createReadStream(join(dir, ref), { highWaterMark: 64 * 1024 }), { format }),
  };
}
