import { createCloudApiClient, type CloudApiClient, type MessageTemplate } from "@parley/cloud-api";
import { errorMessage, ParleyError, type RetryKind } from "@parley/errors";
import type { NumberDirectory } from "@parley/numbers";
import type { TemplateSource } from "../../outbound/catalog.js";
import type { CatalogTemplate } from "../../outbound/templates.js";

/**
 * Graph could not list a WABA's templates: unreachable, throttled or refusing the token
 * (`outage`: the last synced catalog stays in use and the sync is tried again), or no number of
 * the WABA in the directory to ask with (`never`: a configuration error).
 */
export class TemplateSourceError extends ParleyError {
  override readonly name = "TemplateSourceError";
  constructor(wabaId: string, cause: unknown, retry: RetryKind = "outage") {
    super(
      `listing the templates of WhatsApp Business Account ${wabaId} failed: ${errorMessage(cause)}`,
      {
        retry,
        cause,
        context: { wabaId },
      },
    );
  }
}

const FIELDS = ["id", "name", "language", "status", "category", "parameter_format", "components"];

/**
 * Template lists from Graph (`GET /{waba-id}/message_templates`, every page), with the access
 * token of a number of that WABA from the number directory. One client per WABA.
 */
export function createTemplateSource({
  directory,
  baseUrl,
  graphVersion,
  timeoutMs = 10_000,
  pageSize = 100,
}: {
  directory: NumberDirectory;
  baseUrl: string;
  graphVersion: string;
  timeoutMs?: number;
  pageSize?: number;
}): TemplateSource & { close(): Promise<void> } {
  const clients = new Map<string, CloudApiClient>();
  const clientFor = (wabaId: string): CloudApiClient => {
    const existing = clients.get(wabaId);
    if (existing !== undefined) return existing;
    const number = directory.inWaba(wabaId)[0];
    if (number === undefined) {
      throw new TemplateSourceError(
        wabaId,
        new Error("no business number of this WABA in the directory"),
        "never",
      );
    }
    const client = createCloudApiClient({
      accessToken: () => number.accessToken,
      baseUrl,
      graphVersion,
      timeoutMs,
    });
    clients.set(wabaId, client);
    return client;
  };
  return {
    async list(wabaId) {
      const client = clientFor(wabaId);
      const out: CatalogTemplate[] = [];
      try {
        for await (const t of client.iterateTemplates(wabaId, {
          fields: FIELDS,
          limit: pageSize,
        })) {
          out.push(toCatalogTemplate(t));
        }
      } catch (error) {
        throw new TemplateSourceError(wabaId, error);
      }
      return out;
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}

function toCatalogTemplate(t: MessageTemplate): CatalogTemplate {
  return {
    id: t.id,
    name: t.name,
    language: t.language,
    status: t.status,
    category: t.category,
    parameterFormat: t.parameter_format ?? "POSITIONAL",
    components: t.components.map((c) => ({
      type: c.type,
      ...(c.format === undefined ? {} : { format: c.format }),
      ...(c.text === undefined ? {} : { text: c.text }),
      ...(c.buttons === undefined
        ? {}
        : {
            buttons: c.buttons.map((b) => ({
              type: b.type,
              ...(b.url === undefined ? {} : { url: b.url }),
            })),
          }),
    })),
  };
}
