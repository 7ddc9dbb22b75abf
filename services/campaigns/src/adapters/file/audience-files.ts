import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ParleyError } from "@parley/errors";
import { readAudience, type AudienceFormat } from "../../audience/read.js";
import type { AudienceFiles } from "../../control/ports.js";

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
export function createAudienceFiles({ dir }: { dir: string }): AudienceFiles {
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
      readAudience(createReadStream(join(dir, ref), { highWaterMark: 64 * 1024 }), { format }),
  };
}
