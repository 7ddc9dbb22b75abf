export {
  CloudApiError,
  CloudApiTimeoutError,
  CloudApiTransportError,
  GraphApiError,
  InvalidPhoneNumberError,
  MessageValidationError,
  UnexpectedResponseError,
  type ErrorContext,
  type GraphErrorBody,
} from "./errors.js";
export {
  classifyErrorCode,
  graphErrorTable,
  isRetriableAction,
  type ErrorAction,
  type GraphErrorClass,
  type GraphErrorRule,
} from "./error-table.js";
export * from "./builders.js";
export { validateMessage, validateMediaUpload, charLength } from "./validate.js";
export {
  limits,
  mediaLimits,
  mediaKindOf,
  STATIC_STICKER_MAX_BYTES,
  type MediaKind,
} from "./limits.js";
export {
  normalizePhoneNumber,
  possiblePhoneCountry,
  maskPhoneNumber,
  type NormalizedPhone,
  type CountryCode,
} from "./phone.js";
export {
  signWebhookBody,
  verifyWebhookSignature,
  verifySubscriptionChallenge,
  metaJsonStringify,
  SIGNATURE_HEADER,
  type ChallengeResult,
} from "./signature.js";
export {
  createUndiciTransport,
  readBodyText,
  bufferBody,
  ResponseBodyError,
  type HttpTransport,
  type HttpTextResponse,
  type HttpRequest,
  type HttpResponse,
  type HttpMethod,
  type UndiciTransportOptions,
} from "./http.js";
export {
  createCloudApiClient,
  type CloudApiClient,
  type CloudApiClientOptions,
  type SendResult,
  type MediaInfo,
  type MediaDownload,
  type ListTemplatesOptions,
} from "./client.js";
export type { MediaUploadFile } from "./media-upload.js";
export type * from "./types.js";
export type * from "./webhook-types.js";
