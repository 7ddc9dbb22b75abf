import type { CommandHandler, StateStore } from "@parley/decider";
import type {
  Announcement,
  MediaCommand,
  MediaOutput,
  MediaState,
} from "../domain/media-object.js";
import type { Ingest } from "../ingest/ingest.js";

export interface InboundMediaOptions {
  readonly commands: CommandHandler<MediaCommand>;
  readonly store: StateStore<MediaState, MediaOutput>;
  readonly ingest: Ingest;
}

/**
 * One inbound media file, from announcement to a recorded outcome. The decider makes it
 * idempotent: a media id already announced and settled (stored, failed, deleted) downloads
 * nothing, and one still pending (a crash or a failure interrupted it) is downloaded again into
 * the same storage key before its outcome is recorded once.
 */
export function createInboundMedia({ commands, store, ingest }: InboundMediaOptions) {
  return async function handleMedia(mediaId: string, announcement: Announcement): Promise<void> {
    await commands.handle([{ key: mediaId, command: { type: "Announce", announcement } }]);
    const loaded = (await store.loadMany([mediaId])).get(mediaId);
    if (loaded instanceof Error) throw loaded;
    if (loaded?.state.status !== "pending") return;
    const outcome = await ingest(mediaId, loaded.state.announcement ?? announcement);
    await commands.handle([
      {
        key: mediaId,
        command:
          outcome.kind === "stored"
            ? { type: "RecordStored", object: outcome.object }
            : { type: "RecordFailed", reason: outcome.reason, detail: outcome.detail },
      },
    ]);
  };
}

export type InboundMedia = ReturnType<typeof createInboundMedia>;
