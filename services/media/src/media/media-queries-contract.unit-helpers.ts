import { randomBytes } from "node:crypto";
import { createCommandHandler, type StateStore } from "@parley/decider";
import { describe, expect, it } from "vitest";
import {
  mediaObject,
  type Announcement,
  type MediaOutput,
  type MediaState,
  type StoredObject,
} from "../domain/media-object.js";
import type { MediaQueries } from "./ports.js";

const uuid = (name: string): string => {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const hex = h.toString(16).padStart(8, "0");
  return `${hex}-0000-5000-8000-${hex}${hex.slice(0, 4)}`;
};

/**
 * The MediaQueries port's contract over media objects decided by the real decider: run against
 * the in-memory fake (unit) and MongoDB (int), so the sweeper, erasure and re-wrap can trust the
 * fake.
 */
export function describeMediaQueries(
  name: string,
  make: () => Promise<{
    store: StateStore<MediaState, MediaOutput>;
    queries: MediaQueries;
  }>,
): void {
  describe(`MediaQueries contract: ${name}`, () => {
    it("finds expired, a contact's, a key's and unremoved objects, and keeps the audit", async () => {
      const { store, queries } = await make();
      let now = new Date("2026-03-01T00:00:00.000Z");
      const commands = createCommandHandler({
        decider: mediaObject,
        store,
        publish: () => Promise.resolve(),
        clock: () => now,
        context: (batch, at) =>
          batch.map(() => ({
            now: at,
            eventIdOf: uuid,
            retention: { defaultDays: 10, byKind: { audio: 1 } },
          })),
      });
      const tag = randomBytes(3).toString("hex");
      const contact = `1650555${String(Math.floor(Math.random() * 9000) + 1000)}`;
      const object = (key: string, keyId: string): StoredObject => ({
        storageKey: `inbound/x/${key}`,
        store: "memory",
        keyId,
        wrappedKey: "d3JhcA==",
        chunkBytes: 65_536,
        sizeBytes: 10,
        sha256Hex: "a".repeat(64),
        mimeType: "image/jpeg",
      });
      const announce = (kind: Announcement["kind"], contactId: string): Announcement => ({
        contactId,
        wamid: "wamid.q",
        kind,
        correlationId: "d",
        causationId: uuid("c"),
      });
      const img = `${tag}img`;
      const aud = `${tag}aud`;
      const pend = `${tag}pend`;
      await commands.handle([
        { key: img, command: { type: "Announce", announcement: announce("image", contact) } },
        { key: aud, command: { type: "Announce", announcement: announce("audio", contact) } },
        { key: pend, command: { type: "Announce", announcement: announce("image", contact) } },
      ]);
      await commands.handle([
        { key: img, command: { type: "RecordStored", object: object(img, "k1") } },
        { key: aud, command: { type: "RecordStored", object: object(aud, "k2") } },
      ]);
      expect((await queries.get(img))?.status).toBe("stored");
      expect((await queries.get(img))?.object?.wrappedKey).toBe("d3JhcA==");
      expect(await queries.get(`${tag}none`)).toBeUndefined();
      expect((await queries.ofContact(contact, 10)).sort()).toEqual([aud, img, pend].sort());
      expect((await queries.storedUnder("k1", 10)).map((s) => s.mediaId)).toContain(img);
      expect((await queries.storedUnder("k1", 10)).map((s) => s.mediaId)).not.toContain(aud);
      now = new Date("2026-03-03T00:00:00.000Z");
      const expired = await queries.expired(now, 100);
      expect(expired).toContain(aud);
      expect(expired).not.toContain(img);
      await commands.handle([{ key: aud, command: { type: "Delete", reason: "retention" } }]);
      expect(await queries.expired(now, 100)).not.toContain(aud);
      expect((await queries.unremoved(100)).map((s) => s.mediaId)).toContain(aud);
      await commands.handle([{ key: aud, command: { type: "RecordRemoved" } }]);
      expect((await queries.unremoved(100)).map((s) => s.mediaId)).not.toContain(aud);
      await queries.audit({ mediaId: img, principal: "a", at: new Date("2026-03-03T00:00:00Z") });
      await queries.audit({
        mediaId: img,
        principal: "b",
        at: new Date("2026-03-03T00:00:01Z"),
        range: "bytes=0-1",
      });
      const downloads = await queries.downloads(img, 10);
      expect(downloads.map((d) => d.principal)).toEqual(["b", "a"]);
      expect(downloads[0]?.range).toBe("bytes=0-1");
    });
  });
}
