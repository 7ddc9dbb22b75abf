import { createHmac, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  CloudApiError,
  CloudApiTimeoutError,
  CloudApiTransportError,
  GraphApiError,
  UnexpectedResponseError,
  type ErrorContext,
  type GraphErrorBody,
} from "./errors.js";
import {
  MAX_TEXT_BODY_BYTES,
  ResponseBodyError,
  createUndiciTransport,
  readBodyText,
  type HttpMethod,
  type HttpResponse,
  type HttpTextResponse,
  type HttpTransport,
} from "./http.js";
import { markReadRequest } from "./builders.js";
import type {
  CreateTemplateRequest,
  CreateTemplateResponse,
  MediaUrlResponse,
  MessageStatusOnSend,
  MessageTemplate,
  OutboundMessage,
  Paged,
  PhoneNumberFields,
  SendMessageResponse,
  ThroughputLevel,
  TokenDebugData,
} from "./types.js";
import { validateMediaUpload, validateMessage } from "./validate.js";
import { multipartStream, type MediaUploadFile } from "./media-upload.js";

export interface CloudApiClientOptions {
  /** A token, or a function returning the current one (for rotation). Never logged. */
  readonly accessToken: string | (() => string);
  /** Point at the simulator with e.g. `http://127.0.0.1:4010`. */
  readonly baseUrl?: string;
  /** Pin it: without a version Graph uses the app's default, which moves. */
  readonly graphVersion?: string;
  /** Per request: time to response headers, and between body chunks. */
  readonly timeoutMs?: number;
  readonly transport?: HttpTransport;
  /** If set, every call carries appsecret_proof (needed when the app requires it). */
  readonly appSecret?: string;
  /** Validate every outbound message against Meta's limits before sending. */
  readonly validate?: boolean;
  /** Hosts we send the Bearer token to for media downloads; the Graph host is always allowed. */
  readonly mediaHosts?: readonly string[];
  /** Upper bound on pages fetched by iterateTemplates. */
  readonly maxPages?: number;
}

export interface SendResult {
  readonly wamid: string;
  /** Canonical WhatsApp id Meta resolved, which may differ from the input (BR, MX, AR). */
  readonly waId: string | undefined;
  readonly input: string;
  /** Present only for paced template sends. */
  readonly messageStatus: MessageStatusOnSend | undefined;
  readonly fbTraceId: string | undefined;
}

export interface MediaInfo {
  readonly id: string;
  readonly url: string;
  readonly mimeType: string;
  readonly sha256: string;
  readonly fileSize: number;
}

export interface MediaDownload {
  readonly mimeType: string | undefined;
  readonly contentLength: number | undefined;
  /** Stream it to storage; it is never buffered here. */
  readonly body: Readable;
}

export interface ListTemplatesOptions {
  readonly limit?: number;
  readonly after?: string;
  readonly fields?: readonly string[];
  readonly status?: string;
  readonly name?: string;
}

type RequestBody = string | Uint8Array | Readable;

export interface CloudApiClient {
  sendMessage(phoneNumberId: string, message: OutboundMessage): Promise<SendResult>;
  markAsRead(
    phoneNumberId: string,
    messageId: string,
    options?: { readonly typingIndicator?: boolean },
  ): Promise<void>;
  /**
   * `POST /{phone-number-id}/media` (multipart). A file given as `body` and `size` is streamed
   * into the request with its Content-Length, never held whole in memory; a body that yields
   * more or fewer bytes than `size` aborts the request.
   */
  uploadMedia(phoneNumberId: string, file: MediaUploadFile): Promise<{ readonly id: string }>;
  getMedia(mediaId: string, options?: { readonly phoneNumberId?: string }): Promise<MediaInfo>;
  downloadMedia(url: string): Promise<MediaDownload>;
  /** URL lookup then download; looks the URL up once more if the first one answers 404 (expired). */
  downloadMediaById(
    mediaId: string,
    options?: { readonly phoneNumberId?: string },
  ): Promise<MediaDownload & { readonly info: MediaInfo }>;
  deleteMedia(mediaId: string, options?: { readonly phoneNumberId?: string }): Promise<void>;
  listTemplates(wabaId: string, options?: ListTemplatesOptions): Promise<Paged<MessageTemplate>>;
  iterateTemplates(
    wabaId: string,
    options?: Omit<ListTemplatesOptions, "after">,
  ): AsyncGenerator<MessageTemplate>;
  getTemplate(templateId: string, fields?: readonly string[]): Promise<MessageTemplate>;
  createTemplate(wabaId: string, template: CreateTemplateRequest): Promise<CreateTemplateResponse>;
  deleteTemplate(
    wabaId: string,
    by: { readonly name: string; readonly hsmId?: string },
  ): Promise<void>;
  getPhoneNumber(phoneNumberId: string, fields?: readonly string[]): Promise<PhoneNumberFields>;
  getThroughput(phoneNumberId: string): Promise<ThroughputLevel>;
  /**
   * What Graph says about `inputToken` (`GET /debug_token`), asked with `as.accessToken` when
   * given (Meta's documented caller: the app token `<app id>|<app secret>`), else with this
   * client's own token (a system user's token may inspect itself). A token Graph does not know
   * answers `is_valid: false` with `error`, not a thrown error; a refused caller token throws
   * GraphApiError (190).
   */
  debugToken(inputToken: string, as?: { readonly accessToken?: string }): Promise<TokenDebugData>;
  close(): Promise<void>;
}

const CONNECT_PHASE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);

function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string")
    return err.code;
  return undefined;
}

function asGraphError(parsed: unknown): GraphErrorBody | undefined {
  if (typeof parsed !== "object" || parsed === null || !("error" in parsed)) return undefined;
  const e = parsed.error;
  if (typeof e !== "object" || e === null || !("code" in e) || typeof e.code !== "number")
    return undefined;
  return e as GraphErrorBody;
}

function encodeId(id: string): string {
  if (id.length === 0)
    throw new CloudApiError("empty Graph object id", { retriable: false, action: "fail" });
  return encodeURIComponent(id);
}

const DEFAULT_FIELDS = [
  "name",
  "status",
  "category",
  "language",
  "components",
  "quality_score",
  "parameter_format",
];

/** Builds a Graph client. Defaults are visible here; nothing is read from the environment. */
export function createCloudApiClient({
  accessToken,
  baseUrl = "https://graph.facebook.com",
  graphVersion = "v23.0",
  timeoutMs = 10_000,
  transport = createUndiciTransport(),
  appSecret,
  validate = true,
  mediaHosts = ["lookaside.fbsbx.com"],
  maxPages = 1_000,
}: CloudApiClientOptions): CloudApiClient {
  if (!/^v\d+\.\d+$/.test(graphVersion))
    throw new RangeError(`graphVersion must look like "v23.0", got "${graphVersion}"`);
  const base = new URL(baseUrl);
  if (base.protocol !== "https:" && base.protocol !== "http:")
    throw new RangeError("baseUrl must be an http(s) URL");
  if (timeoutMs <= 0) throw new RangeError("timeoutMs must be positive");
  const root = baseUrl.replace(/\/+$/, "");
  const allowedMediaHosts = new Set([base.host, ...mediaHosts]);
  const token = typeof accessToken === "function" ? accessToken : () => accessToken;

  function authHeaders(caller = token()): Record<string, string> {
    return { authorization: `Bearer ${caller}` };
  }

  function url(
    path: string,
    query: Record<string, string | undefined> = {},
    caller = token(),
  ): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    if (appSecret !== undefined)
      params.set("appsecret_proof", createHmac("sha256", appSecret).update(caller).digest("hex"));
    const qs = params.toString();
    return `${root}/${graphVersion}/${path}${qs ? `?${qs}` : ""}`;
  }

  async function send(
    method: HttpMethod,
    target: string,
    context: ErrorContext,
    headers: Record<string, string>,
    body?: RequestBody,
  ): Promise<HttpResponse> {
    try {
      return await transport.request({
        method,
        url: target,
        headers,
        ...(body !== undefined ? { body } : {}),
        timeoutMs,
      });
    } catch (err) {
      throw transportFailure(method, context, err);
    }
  }

  /** The whole answer to a JSON call: buffered by the transport when it can, else read here. */
  async function exchange(
    method: HttpMethod,
    target: string,
    context: ErrorContext,
    headers: Record<string, string>,
    body?: RequestBody,
  ): Promise<HttpTextResponse> {
    // A streamed body goes through request(): the answer is read here.
    if (transport.requestText === undefined || body instanceof Readable) {
      const res = await send(method, target, context, headers, body);
      try {
        return { status: res.status, headers: res.headers, text: await readBodyText(res.body) };
      } catch (err) {
        throw bodyFailure(method, context, err);
      }
    }
    try {
      return await transport.requestText(
        { method, url: target, headers, ...(body !== undefined ? { body } : {}), timeoutMs },
        MAX_TEXT_BODY_BYTES,
      );
    } catch (err) {
      if (err instanceof ResponseBodyError) throw bodyFailure(method, context, err.cause);
      throw transportFailure(method, context, err);
    }
  }

  function bodyFailure(method: HttpMethod, context: ErrorContext, err: unknown): Error {
    return new CloudApiTransportError(
      `Graph ${method} ${context.path ?? ""}: reading the response failed`,
      { inDoubt: method === "POST", cause: err, context },
    );
  }

  function transportFailure(method: HttpMethod, context: ErrorContext, err: unknown): Error {
    const code = errorCode(err);
    const mayHaveArrived =
      method === "POST" && !(code !== undefined && CONNECT_PHASE_CODES.has(code));
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return new CloudApiTimeoutError(
        `Graph ${method} ${context.path ?? ""} timed out after ${timeoutMs} ms`,
        {
          inDoubt: method === "POST",
          code,
          cause: err,
          context,
        },
      );
    }
    return new CloudApiTransportError(
      `Graph ${method} ${context.path ?? ""} failed: ${code ?? "network error"}`,
      {
        inDoubt: mayHaveArrived,
        ...(code !== undefined ? { code } : {}),
        cause: err,
        context,
      },
    );
  }

  // Graph answers are trusted to have Meta's documented shape; callers narrow with one cast.
  async function call(
    method: HttpMethod,
    path: string,
    options: Parameters<typeof callWithHeaders>[2] = {},
  ): Promise<unknown> {
    return (await callWithHeaders(method, path, options)).data;
  }

  async function callWithHeaders(
    method: HttpMethod,
    path: string,
    options: {
      query?: Record<string, string | undefined>;
      json?: unknown;
      raw?: { body: Uint8Array | Readable; contentType: string; contentLength?: number };
      context?: Partial<ErrorContext>;
      /** Another caller token than the client's (debug_token with the app token). */
      caller?: string;
    } = {},
  ): Promise<{ data: unknown; traceId: string | undefined }> {
    const context: ErrorContext = { method, path: `/${graphVersion}/${path}`, ...options.context };
    const caller = options.caller ?? token();
    const headers: Record<string, string> = { ...authHeaders(caller), accept: "application/json" };
    let body: RequestBody | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.raw) {
      headers["content-type"] = options.raw.contentType;
      if (options.raw.contentLength !== undefined)
        headers["content-length"] = String(options.raw.contentLength);
      body = options.raw.body;
    }
    const res = await exchange(method, url(path, options.query, caller), context, headers, body);
    const text = res.text;
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const graphError = asGraphError(parsed);
    if (graphError) throw new GraphApiError(graphError, res.status, context);
    if (res.status < 200 || res.status >= 300 || parsed === undefined) {
      throw new UnexpectedResponseError(res.status, text, context);
    }
    return { data: parsed, traceId: res.headers["x-fb-trace-id"] };
  }

  async function getMedia(
    mediaId: string,
    options: { readonly phoneNumberId?: string } = {},
  ): Promise<MediaInfo> {
    const r = (await call("GET", encodeId(mediaId), {
      query: { phone_number_id: options.phoneNumberId },
      ...(options.phoneNumberId !== undefined
        ? { context: { phoneNumberId: options.phoneNumberId } }
        : {}),
    })) as MediaUrlResponse;
    return {
      id: r.id,
      url: r.url,
      mimeType: r.mime_type,
      sha256: r.sha256,
      fileSize: Number(r.file_size),
    };
  }

  async function downloadMedia(mediaUrl: string): Promise<MediaDownload> {
    const target = new URL(mediaUrl);
    if (!allowedMediaHosts.has(target.host)) {
      throw new CloudApiError(
        `refusing to send the access token to ${target.host}; add it to mediaHosts if it is Meta's`,
        {
          retriable: false,
          action: "fail",
        },
      );
    }
    const context: ErrorContext = { method: "GET", path: target.pathname };
    const res = await send("GET", mediaUrl, context, {
      ...authHeaders(),
      "user-agent": "parley-cloud-api",
    });
    if (res.status !== 200) {
      const text = await readBodyText(res.body, 64 * 1024).catch(() => "");
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const graphError = asGraphError(parsed);
      if (graphError) throw new GraphApiError(graphError, res.status, context);
      throw new UnexpectedResponseError(res.status, text, context);
    }
    const length = res.headers["content-length"];
    return {
      mimeType: res.headers["content-type"],
      contentLength: length === undefined ? undefined : Number(length),
      body: res.body,
    };
  }

  async function listTemplates(
    wabaId: string,
    o: ListTemplatesOptions = {},
  ): Promise<Paged<MessageTemplate>> {
    return (await call("GET", `${encodeId(wabaId)}/message_templates`, {
      query: {
        fields: (o.fields ?? DEFAULT_FIELDS).join(","),
        limit: o.limit === undefined ? undefined : String(o.limit),
        after: o.after,
        status: o.status,
        name: o.name,
      },
    })) as Paged<MessageTemplate>;
  }

  return {
    async sendMessage(phoneNumberId, message) {
      if (validate) validateMessage(message);
      const { data, traceId } = await callWithHeaders(
        "POST",
        `${encodeId(phoneNumberId)}/messages`,
        {
          json: message,
          context: { phoneNumberId, messageType: message.type },
        },
      );
      const r = data as SendMessageResponse;
      const sent = r.messages[0];
      if (!sent)
        throw new UnexpectedResponseError(200, "send response without messages[0]", {
          method: "POST",
          phoneNumberId,
        });
      const contact = r.contacts[0];
      return {
        wamid: sent.id,
        waId: contact?.wa_id,
        // validateMessage made sure the message has one of the two.
        input: contact?.input ?? message.to ?? message.recipient ?? "",
        messageStatus: sent.message_status,
        fbTraceId: traceId,
      };
    },

    async markAsRead(phoneNumberId, messageId, options = {}) {
      await call("POST", `${encodeId(phoneNumberId)}/messages`, {
        json: markReadRequest(messageId, options),
        context: { phoneNumberId },
      });
    },

    async uploadMedia(phoneNumberId, file) {
      const size = "data" in file ? file.data.byteLength : file.size;
      validateMediaUpload({
        mimeType: file.mimeType,
        size,
        ...(file.animatedSticker !== undefined ? { animatedSticker: file.animatedSticker } : {}),
      });
      const boundary = `----parley${randomBytes(12).toString("hex")}`;
      const filename = (file.filename ?? "file").replace(/["\r\n]/g, "_");
      const part = (headers: string): Buffer => Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`);
      const head = Buffer.concat([
        part('Content-Disposition: form-data; name="messaging_product"'),
        Buffer.from("whatsapp\r\n"),
        part('Content-Disposition: form-data; name="type"'),
        Buffer.from(`${file.mimeType}\r\n`),
        part(
          `Content-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${file.mimeType}`,
        ),
      ]);
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const contentType = `multipart/form-data; boundary=${boundary}`;
      const raw =
        "data" in file
          ? {
              body: Buffer.concat([
                head,
                Buffer.from(file.data.buffer, file.data.byteOffset, file.data.byteLength),
                tail,
              ]),
              contentType,
            }
          : {
              body: Readable.from(multipartStream(head, file.body, size, tail)),
              contentType,
              contentLength: head.length + size + tail.length,
            };
      return (await call("POST", `${encodeId(phoneNumberId)}/media`, {
        raw,
        context: { phoneNumberId },
      })) as { id: string };
    },

    getMedia,
    downloadMedia,

    async downloadMediaById(mediaId, options = {}) {
      let info = await getMedia(mediaId, options);
      try {
        return { ...(await downloadMedia(info.url)), info };
      } catch (err) {
        if (!(err instanceof UnexpectedResponseError) || err.httpStatus !== 404) throw err;
        info = await getMedia(mediaId, options);
        return { ...(await downloadMedia(info.url)), info };
      }
    },

    async deleteMedia(mediaId, options = {}) {
      await call("DELETE", encodeId(mediaId), {
        query: { phone_number_id: options.phoneNumberId },
      });
    },

    listTemplates,

    async *iterateTemplates(wabaId, options = {}) {
      let after: string | undefined;
      for (let page = 0; page < maxPages; page++) {
        const r = await listTemplates(wabaId, {
          ...options,
          ...(after !== undefined ? { after } : {}),
        });
        yield* r.data;
        after = r.paging?.cursors?.after;
        if (r.paging?.next === undefined || after === undefined || r.data.length === 0) return;
      }
      throw new CloudApiError(`template listing exceeded maxPages (${maxPages})`, {
        retriable: false,
        action: "fail",
      });
    },

    async getTemplate(templateId, fields = DEFAULT_FIELDS) {
      return (await call("GET", encodeId(templateId), {
        query: { fields: fields.join(",") },
      })) as MessageTemplate;
    },

    async createTemplate(wabaId, template) {
      return (await call("POST", `${encodeId(wabaId)}/message_templates`, {
        json: template,
      })) as CreateTemplateResponse;
    },

    async deleteTemplate(wabaId, by) {
      await call("DELETE", `${encodeId(wabaId)}/message_templates`, {
        query: { name: by.name, hsm_id: by.hsmId },
      });
    },

    async getPhoneNumber(
      phoneNumberId,
      fields = ["display_phone_number", "verified_name", "quality_rating", "throughput"],
    ) {
      return (await call("GET", encodeId(phoneNumberId), {
        query: { fields: fields.join(",") },
        context: { phoneNumberId },
      })) as PhoneNumberFields;
    },

    async getThroughput(phoneNumberId) {
      const r = (await call("GET", encodeId(phoneNumberId), {
        query: { fields: "throughput" },
        context: { phoneNumberId },
      })) as PhoneNumberFields;
      return r.throughput?.level ?? "STANDARD";
    },

    async debugToken(inputToken, as = {}) {
      const r = (await call("GET", "debug_token", {
        query: { input_token: inputToken },
        ...(as.accessToken === undefined ? {} : { caller: as.accessToken }),
      })) as {
        data?: TokenDebugData;
      };
      if (r.data === undefined || typeof r.data.is_valid !== "boolean")
        throw new UnexpectedResponseError(200, "debug_token answered without data.is_valid", {
          method: "GET",
          path: `/${graphVersion}/debug_token`,
        });
      return r.data;
    },

    async close() {
      await transport.close();
    },
  };
}
