import { deciderSpec } from "@parley/testkit";
import { describe, expect, it } from "vitest";
import {
  FOREVER,
  mediaObject,
  type Announcement,
  type MediaContext,
  type MediaEvent,
  type StoredObject,
} from "./media-object.js";
import { retentionOf } from "./retention.js";
import { contentMismatch } from "./sniff.js";

/** A deterministic UUID-shaped id per name (FNV-1a, enough for a test's distinct names). */
const uuidOf = (name: string): string => {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const hex = h.toString(16).padStart(8, "0");
  return `${hex}-0000-5000-8000-${hex}${hex.slice(0, 4)}`;
};
const NOW = new Date("2026-03-01T10:00:00.000Z");
const ctx: MediaContext = {
  now: NOW,
  retention: { defaultDays: 90, byKind: { audio: 30 }, byNumber: { "106540352242933": 7 } },
  eventIdOf: uuidOf,
};
const spec = deciderSpec(mediaObject, { key: "1037543291543636", context: ctx, match: "subset" });

const announcement: Announcement = {
  contactId: "16505551234",
  wamid: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZCRjA2MTE2RjQ3RjJGQ0QwMAA=",
  kind: "image",
  businessNumber: "106540352242922",
  mimeType: "image/jpeg",
  sha256: "2yLd0bAE8Pc9oJnFcSU4Ro8ToCv7VfIP1VtKaN1WxUU=",
  correlationId: "d-1",
  causationId: uuidOf("inbound"),
};
const object: StoredObject = {
  storageKey: "inbound/106540352242922/1037543291543636",
  store: "filesystem",
  keyId: "k1",
  wrappedKey: "d3JhcHBlZA==",
  chunkBytes: 65_536,
  sizeBytes: 303_833,
  sha256Hex: "db22dd d1b004f0cf3da0e7c5712538468f13a82bef52f20fd55bda68dd56c545".replace(" ", ""),
  mimeType: "image/jpeg",
};

const announced = (a: Announcement = announcement) =>
  spec.given().when({ type: "Announce", announcement: a }).events;
const stored = (): MediaEvent[] => {
  const past = announced();
  return [...past, ...spec.given(...past).when({ type: "RecordStored", object }).events];
};

describe("media object decider", () => {
  it("announces a new media id once: a duplicate webhook decides nothing", () => {
    const past = announced();
    expect(past.map((e) => e.type)).toEqual(["Announced"]);
    spec
      .given(...past)
      .when({ type: "Announce", announcement })
      .thenState((s) => {
        expect(s.status).toBe("pending");
      });
    expect(spec.given(...past).when({ type: "Announce", announcement }).events).toEqual([]);
    expect(spec.given(...stored()).when({ type: "Announce", announcement }).events).toEqual([]);
  });

  it("records a stored object once, with its kind's retention, and keeps the data key in the state", () => {
    const [event] = spec
      .given(...announced())
      .when({ type: "RecordStored", object })
      .then({
        type: "MediaStored",
        data: {
          contactId: announcement.contactId,
          mediaId: "1037543291543636",
          sha256: announcement.sha256,
          contentSha256: object.sha256Hex,
          storageKey: object.storageKey,
          keyId: "k1",
          sizeBytes: 303_833,
          kind: "image",
          retentionEndsAt: "2026-05-30T10:00:00.000Z",
        },
      });
    expect(event?.eventId).toBe(uuidOf("media:1037543291543636:stored"));
    expect(event?.causationId).toBe(announcement.causationId);
    spec
      .given(...stored())
      .when({ type: "RecordStored", object })
      .thenNothing();
    spec
      .given(...stored())
      .when({ type: "RecordFailed", reason: "hash_mismatch", detail: "x" })
      .thenNothing();
    spec
      .given(...announced())
      .when({ type: "RecordStored", object })
      .thenState((s) => {
        expect(s.object?.wrappedKey).toBe(object.wrappedKey);
        expect(s.status).toBe("stored");
      });
  });

  it("a per-number rule wins over the kind's; 0 days keeps forever", () => {
    const past = announced({ ...announcement, businessNumber: "106540352242933" });
    spec
      .given(...past)
      .when({ type: "RecordStored", object })
      .then({ type: "MediaStored", data: { retentionEndsAt: "2026-03-08T10:00:00.000Z" } });
    spec
      .given(...announced())
      .when({ type: "RecordStored", object }, { ...ctx, retention: { defaultDays: 0 } })
      .then({ type: "MediaStored", data: { retentionEndsAt: FOREVER } });
    expect(retentionOf(ctx.retention, "audio", undefined).policy).toBe("retention:audio:30d");
  });

  it("fails once with the reason; nothing before an announcement", () => {
    spec
      .given(...announced())
      .when({ type: "RecordFailed", reason: "id_expired", detail: "Graph 100/33" })
      .then({ type: "MediaFailed", data: { reason: "id_expired", direction: "inbound" } });
    spec.given().when({ type: "RecordFailed", reason: "id_expired", detail: "" }).thenNothing();
    spec.given().when({ type: "RecordStored", object }).thenNothing();
  });

  it("deletes with the policy that deleted it and drops the wrapped data key", () => {
    const when = spec.given(...stored()).when({ type: "Delete", reason: "retention" });
    when.then({
      type: "MediaDeleted",
      data: { reason: "retention", policy: "retention:image:90d", storageKey: object.storageKey },
    });
    when.thenState((s) => {
      expect(s.status).toBe("deleted");
      expect(s.object?.wrappedKey).toBe("");
      expect(s.deleted).toEqual({
        reason: "retention",
        policy: "retention:image:90d",
        removed: false,
      });
    });
    const past = [...stored(), ...when.events];
    spec
      .given(...past)
      .when({ type: "Delete", reason: "erasure" })
      .thenNothing();
    spec
      .given(...past)
      .when({ type: "RecordRemoved" })
      .thenState((s) => {
        expect(s.deleted?.removed).toBe(true);
      });
  });

  it("an erasure during the download deletes the object: its download is recorded as deleted, never stored", () => {
    const erased = spec.given(...announced()).when({ type: "Delete", reason: "erasure" });
    erased.thenNothing();
    erased.thenState((s) => {
      expect(s.status).toBe("deleted");
      expect(s.object).toBeUndefined();
    });
    const past = [...announced(), ...erased.events];
    const finished = spec.given(...past).when({ type: "RecordStored", object });
    finished.then({
      type: "MediaDeleted",
      data: { storageKey: object.storageKey, reason: "erasure", policy: "erasure", kind: "image" },
    });
    expect(finished.events.some((e) => e.type === "MediaStored")).toBe(false);
    finished.thenState((s) => {
      expect(s.status).toBe("deleted");
      expect(s.object?.storageKey).toBe(object.storageKey);
      expect(s.object?.wrappedKey).toBe("");
      expect(s.deleted).toEqual({ reason: "erasure", policy: "erasure", removed: false });
    });
    const after = [...past, ...finished.events];
    // The download's record comes again (a crash): nothing more; a failure decides nothing.
    expect(spec.given(...after).when({ type: "RecordStored", object }).events).toEqual([]);
    expect(
      spec.given(...past).when({ type: "RecordFailed", reason: "hash_mismatch", detail: "x" })
        .events,
    ).toEqual([]);
    expect(spec.given(...after).when({ type: "Delete", reason: "erasure" }).events).toEqual([]);
  });

  it("re-wraps a stored object's data key under another key id, once", () => {
    const when = spec.given(...stored()).when({ type: "Rewrap", keyId: "k2", wrappedKey: "bmV3" });
    when.thenNothing();
    when.thenState((s) => {
      expect(s.object?.keyId).toBe("k2");
      expect(s.object?.wrappedKey).toBe("bmV3");
      expect(s.object?.storageKey).toBe(object.storageKey);
    });
    spec
      .given(...stored())
      .when({ type: "Rewrap", keyId: "k1", wrappedKey: "x" })
      .thenState((s) => {
        expect(s.object?.wrappedKey).toBe(object.wrappedKey);
      });
  });

  it("records an upload without publishing (it belongs to no contact) and deletes it the same way", () => {
    const past = spec.given().when({ type: "RecordUpload", object, owner: "orders" }).events;
    expect(past.map((e) => e.type)).toEqual(["Uploaded"]);
    spec
      .given(...past)
      .when({ type: "RecordUpload", object, owner: "orders" })
      .thenNothing();
    spec
      .given(...past)
      .when({ type: "Delete", reason: "api", policy: "api:orders" })
      .thenState((s) => {
        expect(s.status).toBe("deleted");
        expect(s.deleted?.policy).toBe("api:orders");
      });
  });
});

describe("content sniffing", () => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]);
  it("accepts content of the declared type and refuses another or a dangerous one", () => {
    expect(contentMismatch("image/jpeg", jpeg)).toBeUndefined();
    expect(contentMismatch("image/jpeg; foo=bar", jpeg)).toBeUndefined();
    expect(contentMismatch("image/png", jpeg)).toMatch(/image\/jpeg, not the declared image\/png/);
    expect(contentMismatch("application/pdf", Buffer.from("MZ\x90\x00"))).toMatch(
      /x-msdownload, not the declared application\/pdf/,
    );
    expect(contentMismatch("text/plain", Buffer.from("<!DOCTYPE html><script>"))).toMatch(
      /text\/html/,
    );
    expect(contentMismatch("text/plain", Buffer.from("hello"))).toBeUndefined();
    expect(
      contentMismatch("application/octet-stream", Buffer.from([0x7f, 0x45, 0x4c, 0x46])),
    ).toMatch(/refused/);
  });
});
