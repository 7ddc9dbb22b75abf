import type { Catalog, EventOf } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import {
  createEventConsumer,
  type ConsumerRunner,
  type EventConsumerOptions,
  type KafkaClient,
  type KafkaLogger,
  type Serde,
} from "@parley/kafka";
import type { Announcement, MediaKind } from "../../domain/media-object.js";
import type { InboundMedia } from "../../media/inbound.js";

/** The consumer's stable name: group `parley.media`, dead-letter topic `parley.dlq.media`. */
export const MEDIA_CONSUMER = "media";

const KINDS: ReadonlySet<string> = new Set(["image", "video", "audio", "document", "sticker"]);

type Inbound = EventOf<"InboundMessageReceived">;

const isInbound = (value: unknown): value is Inbound =>
  typeof value === "object" &&
  value !== null &&
  "type" in value &&
  value.type === "InboundMessageReceived";

/** The media an inbound message carries, or undefined for a message without media. */
export function mediaOf(
  event: Inbound,
): { readonly mediaId: string; readonly announcement: Announcement } | undefined {
  const message = event.data.message;
  if (!KINDS.has(message.type)) return undefined;
  const kind = message.type as MediaKind;
  const media = (message as unknown as Record<string, unknown>)[kind] as
    { id: string; mimeType?: string; sha256?: string; filename?: string } | undefined;
  if (media === undefined) return undefined;
  return {
    mediaId: media.id,
    announcement: {
      contactId: event.data.contactId,
      wamid: event.data.wamid,
      kind,
      ...(event.businessNumber === undefined ? {} : { businessNumber: event.businessNumber }),
      ...(media.mimeType === undefined ? {} : { mimeType: media.mimeType }),
      ...(media.sha256 === undefined ? {} : { sha256: media.sha256 }),
      ...(media.filename === undefined ? {} : { filename: media.filename }),
      correlationId: event.correlationId,
      causationId: event.eventId,
    },
  };
}

export interface InboundConsumerOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly handleMedia: InboundMedia;
  readonly logger?: KafkaLogger;
  readonly tuning?: EventConsumerOptions["tuning"];
}

/**
 * inbound-messages -> the media of each message -> download, verify, seal, store, record.
 * Translation only: messages without media are skipped; a media id that does not fit a storage
 * key is refused by the store's key check (never); everything else carries its retry decision.
 * Records of one contact run in order (the topic's key), other contacts' at once.
 */
export function createInboundConsumer({
  kafka,
  serde,
  catalog,
  handleMedia,
  logger,
  tuning,
}: InboundConsumerOptions): ConsumerRunner {
  return createEventConsumer({
    kafka,
    serde,
    catalog,
    consumer: MEDIA_CONSUMER,
    topics: [catalog.topic("inbound-messages")],
    handle: async (record) => {
      if (!isInbound(record.value)) return;
      const found = mediaOf(record.value);
      if (found === undefined) return;
      if (found.mediaId.length > 256)
        throw new ParleyError("media id longer than 256 characters", { retry: "never" });
      await handleMedia(found.mediaId, found.announcement);
    },
    ...(logger === undefined ? {} : { logger }),
    ...(tuning === undefined ? {} : { tuning }),
  });
}
