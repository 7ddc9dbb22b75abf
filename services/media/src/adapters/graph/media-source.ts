import {
  CloudApiError,
  createCloudApiClient,
  GraphApiError,
  UnexpectedResponseError,
  type CloudApiClient,
  type HttpTransport,
} from "@parley/cloud-api";
import { ParleyError } from "@parley/errors";
import type { NumberDirectory } from "@parley/numbers";
import {
  MediaIdExpiredError,
  MediaUrlExpiredError,
  type MediaLocation,
  type MediaSource,
} from "../../ingest/ports.js";
import { GraphUploadRefusedError, type GraphUploader } from "../../outbound/graph-ids.js";

export interface GraphMediaSourceOptions {
  readonly directory: NumberDirectory;
  readonly baseUrl: string;
  readonly graphVersion: string;
  /** Hosts the token may be sent to for downloads (Meta's CDN; Graph's host is always allowed). */
  readonly mediaHosts: readonly string[];
  readonly timeoutMs: number;
  /** The HTTP transport (tests: the simulator in process). */
  readonly transport?: HttpTransport;
}

/** Graph's errors as the ingest reads them: by code, never by message text. */
function translate(error: unknown): unknown {
  if (error instanceof GraphApiError && error.code === 100 && error.subcode === 33)
    return new MediaIdExpiredError(`Graph ${String(error.code)}/${String(error.subcode)}`);
  if (error instanceof UnexpectedResponseError && error.httpStatus === 404)
    return new MediaUrlExpiredError();
  if (error instanceof CloudApiError)
    return new ParleyError(error.message, {
      retry: error.retriable ? "bounded" : "never",
      cause: error,
    });
  return error;
}

/**
 * Graph's media endpoints with each business number's own token (the number directory): one
 * client per number, made on first use. Translation only.
 */
export function createGraphMediaSource({
  directory,
  baseUrl,
  graphVersion,
  mediaHosts,
  timeoutMs,
  transport,
}: GraphMediaSourceOptions): MediaSource & GraphUploader & { close(): Promise<void> } {
  const clients = new Map<string, CloudApiClient>();
  const clientOf = (phoneNumberId: string | undefined): CloudApiClient => {
    const number =
      phoneNumberId === undefined ? directory.numbers[0] : directory.get(phoneNumberId);
    if (number === undefined)
      throw new ParleyError("no access token for the business number (PARLEY_NUMBERS)", {
        retry: "never",
        context: { phoneNumberId },
      });
    let client = clients.get(number.phoneNumberId);
    if (client === undefined) {
      client = createCloudApiClient({
        accessToken: () => number.accessToken,
        baseUrl,
        graphVersion,
        mediaHosts,
        timeoutMs,
        ...(transport === undefined ? {} : { transport }),
      });
      clients.set(number.phoneNumberId, client);
    }
    return client;
  };
  return {
    async lookUp(mediaId, phoneNumberId): Promise<MediaLocation> {
      try {
        const info = await clientOf(phoneNumberId).getMedia(mediaId, {
          ...(phoneNumberId === undefined ? {} : { phoneNumberId }),
        });
        return {
          url: info.url,
          mimeType: info.mimeType,
          sha256: info.sha256,
          fileSize: info.fileSize,
        };
      } catch (error) {
        throw translate(error);
      }
    },
    async open(url, phoneNumberId) {
      try {
        const download = await clientOf(phoneNumberId).downloadMedia(url);
        return { body: download.body };
      } catch (error) {
        throw translate(error);
      }
    },
    async upload(phoneNumberId, file) {
      if (directory.get(phoneNumberId) === undefined)
        throw new GraphUploadRefusedError("no access token for that business number", {
          retry: "never",
        });
      try {
        return (await clientOf(phoneNumberId).uploadMedia(phoneNumberId, file)).id;
      } catch (error) {
        if (error instanceof CloudApiError && !error.retriable)
          throw new GraphUploadRefusedError(`Graph refused the upload: ${error.message}`, {
            retry: "never",
            cause: error,
          });
        throw translate(error);
      }
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
    },
  };
}
