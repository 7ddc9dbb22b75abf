import { Transform, type Readable } from "node:stream";
import aws4 from "aws4";
import { ParleyError } from "@parley/errors";
import { Agent, request } from "undici";
import {
  checkKey,
  ObjectNotFoundError,
  StorageUnavailableError,
  type ObjectStore,
} from "../../storage/port.js";

export interface S3ObjectStoreOptions {
  /** e.g. `http://127.0.0.1:49000` (path-style addressing: `<endpoint>/<bucket>/<key>`). */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Put under a key prefix inside the bucket (tests share a bucket). */
  readonly prefix?: string;
  readonly timeoutMs?: number;
}

const lengthMismatch = (error: unknown): boolean =>
  typeof error === "object" &&
  error !== null &&
  "code" in error &&
  error.code === "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH";

const xmlValues = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) =>
    (m[1] ?? "")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, "&"),
  );

/**
 * Objects in an S3-compatible bucket, signed with SigV4 (the `aws4` signer; payload
 * UNSIGNED-PAYLOAD so a body streams through without being hashed first). A PUT is atomic in S3:
 * the object appears whole or not at all. Translation only: 404 is ObjectNotFoundError, 5xx and
 * connection failures are StorageUnavailableError (waited out), any other answer never.
 */
export function createS3ObjectStore({
  endpoint,
  bucket,
  region = "us-east-1",
  accessKeyId,
  secretAccessKey,
  prefix = "",
  timeoutMs = 30_000,
}: S3ObjectStoreOptions): ObjectStore & {
  ensureBucket(): Promise<void>;
  close(): Promise<void>;
} {
  const base = new URL(endpoint);
  const dispatcher = new Agent({ headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const credentials = { accessKeyId, secretAccessKey };
  const pathOf = (key: string): string =>
    `/${bucket}/${(prefix + checkKey(key)).split("/").map(encodeURIComponent).join("/")}`;

  async function send(
    method: string,
    path: string,
    {
      headers = {},
      body,
      query = "",
    }: {
      headers?: Record<string, string>;
      body?: Readable | string;
      query?: string;
    } = {},
  ) {
    const signed = aws4.sign(
      {
        host: base.host,
        method,
        path: `${path}${query ? `?${query}` : ""}`,
        service: "s3",
        region,
        headers: { ...headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
      },
      credentials,
    );
    try {
      return await request(`${base.protocol}//${base.host}${signed.path ?? path}`, {
        method: method as "GET",
        headers: signed.headers as Record<string, string>,
        ...(body === undefined ? {} : { body }),
        dispatcher,
      });
    } catch (error) {
      // The body (a download being stored) failed or was not the length announced: the body's
      // fault, not the server's.
      if (
        body !== undefined &&
        typeof body !== "string" &&
        (body.errored !== null || lengthMismatch(error))
      )
        throw new ParleyError(`S3 ${method} ${path}: the body failed: ${String(error)}`, {
          retry: "never",
          cause: body.errored ?? error,
        });
      throw new StorageUnavailableError(`S3 ${method} ${path}: ${String(error)}`, error);
    }
  }

  async function failure(what: string, res: Awaited<ReturnType<typeof send>>): Promise<Error> {
    const text = (await res.body.text().catch(() => "")).slice(0, 300);
    if (res.statusCode >= 500 || res.statusCode === 429)
      return new StorageUnavailableError(`S3 ${what}: ${res.statusCode} ${text}`);
    return new ParleyError(`S3 ${what}: ${res.statusCode} ${text}`, { retry: "never" });
  }

  return {
    name: "s3",
    async put(key, body, options = {}) {
      const headers: Record<string, string> = { "content-type": "application/octet-stream" };
      if (options.length !== undefined) headers["content-length"] = String(options.length);
      let bytes = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      body.once("error", (error) => counted.destroy(error));
      const res = await send("PUT", pathOf(key), { headers, body: body.pipe(counted) });
      if (res.statusCode !== 200) throw await failure(`PUT ${key}`, res);
      await res.body.dump();
      return bytes;
    },
    async get(key, range) {
      const res = await send("GET", pathOf(key), {
        headers: range === undefined ? {} : { range: `bytes=${range.start}-${range.end}` },
      });
      if (res.statusCode === 404) {
        await res.body.dump();
        throw new ObjectNotFoundError(key);
      }
      if (res.statusCode !== 200 && res.statusCode !== 206) throw await failure(`GET ${key}`, res);
      return res.body;
    },
    async head(key) {
      const res = await send("HEAD", pathOf(key));
      await res.body.dump();
      if (res.statusCode === 404) return undefined;
      if (res.statusCode !== 200) throw await failure(`HEAD ${key}`, res);
      return Number(res.headers["content-length"]);
    },
    async delete(key) {
      const res = await send("DELETE", pathOf(key));
      if (res.statusCode !== 204 && res.statusCode !== 200 && res.statusCode !== 404)
        throw await failure(`DELETE ${key}`, res);
      await res.body.dump();
    },
    async *list(keyPrefix) {
      let token: string | undefined;
      do {
        const params = new URLSearchParams({ "list-type": "2", prefix: prefix + keyPrefix });
        if (token !== undefined) params.set("continuation-token", token);
        params.sort();
        const res = await send("GET", `/${bucket}`, {
          query: params.toString().replace(/\+/g, "%20"),
        });
        if (res.statusCode !== 200) throw await failure("LIST", res);
        const xml = await res.body.text();
        // Directory markers (a filesystem backend lists them) are not objects.
        for (const key of xmlValues(xml, "Key"))
          if (!key.endsWith("/")) yield key.slice(prefix.length);
        token =
          xmlValues(xml, "IsTruncated")[0] === "true"
            ? xmlValues(xml, "NextContinuationToken")[0]
            : undefined;
      } while (token !== undefined);
    },
    async ensureBucket() {
      const res = await send("PUT", `/${bucket}`);
      const text = await res.body.text();
      if (res.statusCode === 200 || /BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(text))
        return;
      if (res.statusCode >= 500)
        throw new StorageUnavailableError(`S3 create bucket: ${res.statusCode}`);
      throw new ParleyError(`S3 create bucket ${bucket}: ${res.statusCode} ${text.slice(0, 300)}`, {
        retry: "never",
      });
    },
    close: () => dispatcher.close(),
  };
}
