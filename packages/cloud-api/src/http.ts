import { Readable } from "node:stream";
import { ParleyError } from "@parley/errors";
import { Agent } from "undici";

export type HttpMethod = "GET" | "POST" | "DELETE";

export interface HttpRequest {
  readonly method: HttpMethod;
  /** Absolute URL. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** A Readable is streamed (give its Content-Length in `headers` when known). */
  readonly body?: string | Uint8Array | Readable;
  readonly timeoutMs: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Must be consumed or destroyed by the caller. */
  readonly body: Readable;
}

export interface HttpTextResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly text: string;
}

/**
 * A request failed after its response's status arrived (body cut off, too large, timed out): the
 * server had the request. `cause` holds the underlying error.
 */
export class ResponseBodyError extends ParleyError {
  override readonly name = "ResponseBodyError";
  constructor(cause: unknown) {
    // The client turns it into an in-doubt CloudApiTransportError (the server had the request),
    // which carries the decision; on its own it is never retried.
    super(
      `reading the response body failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { retry: "never", cause },
    );
  }
}

/** The default cap on a buffered response body. */
export const MAX_TEXT_BODY_BYTES = 8 * 1024 * 1024;

/**
 * The client's only I/O port. The default is a pooled keep-alive undici Agent; tests may pass
 * an in-process transport (the simulator offers one) so that no socket is opened.
 */
export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * The whole response as text, at most `maxBytes`, for JSON calls: no stream per response.
   * Optional (the client reads request()'s body without it). A failure once the status has
   * arrived rejects with ResponseBodyError.
   */
  requestText?(req: HttpRequest, maxBytes: number): Promise<HttpTextResponse>;
  close(): Promise<void>;
}

export interface UndiciTransportOptions {
  /** Sockets per origin. 128 covers 1,000 msg/s at ~100 ms Graph latency with headroom. */
  readonly connectionsPerOrigin?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly keepAliveMaxTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

function flattenHeaders(
  raw: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw))
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** Keep-alive pooled HTTP over undici. One Agent serves graph.facebook.com and the media CDN. */
export function createUndiciTransport({
  connectionsPerOrigin = 128,
  keepAliveTimeoutMs = 30_000,
  keepAliveMaxTimeoutMs = 600_000,
  connectTimeoutMs = 5_000,
}: UndiciTransportOptions = {}): HttpTransport {
  if (connectionsPerOrigin < 1) throw new RangeError("connectionsPerOrigin must be at least 1");
  const agent = new Agent({
    connections: connectionsPerOrigin,
    keepAliveTimeout: keepAliveTimeoutMs,
    keepAliveMaxTimeout: keepAliveMaxTimeoutMs,
    connect: { timeout: connectTimeoutMs },
  });
  const options = (req: HttpRequest) => {
    const url = new URL(req.url);
    return {
      origin: url.origin,
      path: url.pathname + url.search,
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
    };
  };
  return {
    async request(req) {
      const res = await agent.request(options(req));
      return { status: res.statusCode, headers: flattenHeaders(res.headers), body: res.body };
    },
    requestText(req, maxBytes) {
      return new Promise<HttpTextResponse>((resolve, reject) => {
        let status = 0;
        let headers: Record<string, string | undefined> = {};
        const chunks: Buffer[] = [];
        let size = 0;
        // The plain dispatch API: undici's request() wraps every response in a Readable, and
        // reading that back with an async iterator cost about twice the CPU of this.
        agent.dispatch(options(req), {
          // Its presence is what tells undici that this handler speaks the current API.
          onRequestStart() {
            // nothing to do before the request goes out
          },
          onResponseStart(_controller, statusCode, responseHeaders) {
            status = statusCode;
            headers = flattenHeaders(responseHeaders);
          },
          onResponseData(controller, chunk) {
            size += chunk.length;
            if (size > maxBytes) {
              controller.abort(new RangeError(`response body larger than ${maxBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          },
          onResponseEnd() {
            resolve({ status, headers, text: Buffer.concat(chunks, size).toString("utf8") });
          },
          onResponseError(_controller, error) {
            reject(status === 0 ? error : new ResponseBodyError(error));
          },
        });
      });
    },
    async close() {
      await agent.close();
    },
  };
}

/** Reads a whole body into a string, with a size cap so a hostile or broken peer cannot exhaust memory. */
export async function readBodyText(
  body: Readable,
  maxBytes = MAX_TEXT_BODY_BYTES,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > maxBytes) {
      body.destroy();
      throw new RangeError(`response body larger than ${maxBytes} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Wraps a buffer as a Readable (for in-process transports). */
export function bufferBody(data: string | Uint8Array): Readable {
  return Readable.from([typeof data === "string" ? Buffer.from(data) : Buffer.from(data)]);
}
