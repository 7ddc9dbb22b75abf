import type { CommandHandler, StateStore } from "@parley/decider";
import type {
  Announcement,
  MediaCommand,
  MediaOutput,
  MediaState,
} from "../domain/media-object.js";
import { inboundKeyOf, type Ingest } from "../ingest/ingest.js";
import type { ObjectStore } from "../storage/port.js";

export interface InboundMediaOptions {
  readonly commands: CommandHandler<MediaCommand>;
  readonly store: StateStore<MediaState, MediaOutput>;
  readonly ingest: Ingest;
  /** Where the ingest writes: what a download of an object deleted meanwhile wrote is removed. */
  readonly objects: ObjectStore;
}

/**
 * One inbound media file, from announcement to a recorded outcome. The decider makes it
 * idempotent: a media id already announced and settled (stored, failed, deleted) downloads
 * nothing, and one still pending (a crash or a failure interrupted it) is downloaded again into
 * the same storage key before its outcome is recorded once. An erasure during the download
 * deletes the object first: its outcome is recorded as deleted and the bytes just written are
 * removed here; if this process dies before that, the record comes again and removes them.
 */
export function createInboundMedia({ commands, store, ingest, objects }: InboundMediaOptions) {
  const load = async (mediaId: string) => {
    const loaded = (await store.loadMany([mediaId])).get(mediaId);
    if (loaded instanceof Error) throw loaded;
    return loaded?.state;
  };
  return async function handleMedia(mediaId: string, announcement: Announcement): Promise<void> {
    await commands.handle([{ key: mediaId, command: { type: "Announce", announcement } }]);
    const state = await load(mediaId);
    if (state?.status === "deleted" && state.origin === "inbound" && state.object === undefined) {
      // Deleted while an earlier attempt was downloading, which then stopped before recording:
      // whatever it wrote under the fixed key goes.
      await objects.delete(inboundKeyOf(mediaId, state.announcement?.businessNumber));
      return;
    }
    if (state?.status !== "pending") return;
    const outcome = await ingest(mediaId, state.announcement ?? announcement);
    await commands.handle([
      {
        key: mediaId,
        command:
          outcome.kind === "stored"
            ? { type: "RecordStored", object: outcome.object }
            : { type: "RecordFailed", reason: outcome.reason, detail: outcome.detail },
      },
    ]);
    if (outcome.kind !== "stored" || (await load(mediaId))?.status !== "deleted") return;
    await objects.delete(outcome.object.storageKey);
    await commands.handle([{ key: mediaId, command: { type: "RecordRemoved" } }]);
  };
}

export type InboundMedia = ReturnType<typeof createInboundMedia>;
