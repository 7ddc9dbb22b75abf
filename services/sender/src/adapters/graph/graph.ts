import {
  CloudApiTransportError,
  GraphApiError,
  UnexpectedResponseError,
  createCloudApiClient,
  createUndiciTransport,
  MessageValidationError,
  type CloudApiClient,
} from "@parley/cloud-api";
import { ParleyError } from "@parley/errors";
import type { NumberDirectory } from "@parley/numbers";
import { graphMessageOf } from "@parley/graph-content";
import type { CallFailure } from "../../domain/failure.js";
import type { GraphClient } from "../../sending/ports.js";

/** Graph refused the app token that asks debug_token about the numbers' tokens. */
export class AppTokenRefusedError extends ParleyError {
  override readonly name = "AppTokenRefusedError";
  constructor(graphMessage: string) {
    super(
      `Graph refused the app token as debug_token's caller (${graphMessage}): replace GRAPH_APP_TOKEN_FILE (or GRAPH_APP_TOKEN) with <app id>|<app secret> of the app the numbers' tokens belong to; no number's token was judged (docs/runbooks/graph-tokens.md)`,
      { retry: "never" },
    );
  }
}

/** One Graph client per business number (its own token), all on one keep-alive pool. */
export function createGraph({
  directory,
  baseUrl,
  graphVersion,
  timeoutMs,
  connections,
  tokenOf = (number) => directory.get(number)?.accessToken ?? "",
  appToken,
}: {
  directory: NumberDirectory;
  /** The number's current token (a rotated token file's new one); default: the directory's. */
  tokenOf?: (number: string) => string;
  /**
   * The app token (`<app id>|<app secret>`, GRAPH_APP_TOKEN(_FILE)): debug_token's caller as Meta
   * documents it (input_token = the number's token). Unset: the number's token inspects itself.
   * A function is asked at every debug_token call: a rotated app token file is used from then on.
   */
  appToken?: string | (() => string | undefined) | undefined;
  baseUrl: string;
  graphVersion: string;
  timeoutMs: number;
  connections: number;
}): GraphClient {
  const transport = createUndiciTransport({ connectionsPerOrigin: connections });
  const clients = new Map<string, CloudApiClient>();
  const clientFor = (number: string): CloudApiClient => {
    let c = clients.get(number);
    if (!c) {
      const entry = directory.get(number);
      if (!entry) throw new Error(`business number ${number} is not in the directory`);
      c = createCloudApiClient({
        // Read at every call: a token file rotated on disk is used from its next call on.
        accessToken: () => tokenOf(number),
        baseUrl,
        graphVersion,
        timeoutMs,
        transport,
      });
      clients.set(number, c);
    }
    return c;
  };
  const describe = (error: unknown): CallFailure => {
    if (error instanceof GraphApiError)
      return {
        kind: "graph",
        code: error.code,
        httpStatus: error.httpStatus,
        title: error.body.error_user_title ?? error.message,
        details: error.details,
        fbtraceId: error.fbtraceId,
      };
    if (error instanceof CloudApiTransportError)
      return {
        kind: "transport",
        inDoubt: error.inDoubt,
        timeout: error.name === "CloudApiTimeoutError",
        message: error.message,
      };
    if (error instanceof UnexpectedResponseError)
      return { kind: "unexpected", httpStatus: error.httpStatus, message: error.message };
    if (error instanceof MessageValidationError)
      // Refused locally before any request: Meta never saw it.
      return {
        kind: "graph",
        code: 100,
        httpStatus: 400,
        title: "invalid message",
        details: error.message,
      };
    throw error;
  };
  return {
    async send(number, d) {
      try {
        return { ok: true, result: await clientFor(number).sendMessage(number, graphMessageOf(d)) };
      } catch (error) {
        return { ok: false, failure: describe(error) };
      }
    },
    async probe(number) {
      try {
        await clientFor(number).getPhoneNumber(number, ["display_phone_number"]);
        return true;
      } catch {
        return false;
      }
    },
    level: (number) => clientFor(number).getThroughput(number),
    async inspectToken(number) {
      const app = typeof appToken === "function" ? appToken() : appToken;
      try {
        const d = await clientFor(number).debugToken(
          tokenOf(number),
          app === undefined ? undefined : { accessToken: app },
        );
        return {
          isValid: d.is_valid,
          expiresAt: d.expires_at ?? 0,
          scopes: d.scopes ?? [],
          errorCode: d.error?.code,
          errorSubcode: d.error?.subcode,
        };
      } catch (error) {
        // Graph refuses the caller. With an app token that is the app token, not the number's:
        // say which secret to fix and judge no number's token on it.
        if (app !== undefined && error instanceof GraphApiError && error.code === 190)
          throw new AppTokenRefusedError(error.message);
        // The token cannot even ask about itself: Graph refuses it.
        if (error instanceof GraphApiError && (error.code === 190 || error.code === 0))
          return {
            isValid: false,
            expiresAt: 0,
            scopes: [],
            errorCode: error.code,
            errorSubcode: error.subcode,
          };
        throw error;
      }
    },
    async close() {
      await transport.close();
    },
  };
}
