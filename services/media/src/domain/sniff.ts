// What a file really is, from its first bytes, against the MIME type it was declared with. A
// media file whose content is another format than declared is refused (type_mismatch): an
// executable or an HTML page sent as "image/jpeg" never reaches a reader as an image.

type Signature = (b: Uint8Array) => boolean;

const startsWith =
  (...bytes: number[]): Signature =>
  (b) =>
    b.length >= bytes.length && bytes.every((x, i) => b[i] === x);
const ascii =
  (s: string, at = 0): Signature =>
  (b) =>
    b.length >= at + s.length &&
    Array.from({ length: s.length }, (_, i) => i).every((i) => b[at + i] === s.charCodeAt(i));

const jpeg = startsWith(0xff, 0xd8, 0xff);
const png = startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const gif = ascii("GIF8");
const webp: Signature = (b) => ascii("RIFF")(b) && ascii("WEBP", 8)(b);
const isoMedia = ascii("ftyp", 4);
const ogg = ascii("OggS");
const amr = ascii("#!AMR");
const pdf = ascii("%PDF-");
const ole = startsWith(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1);
const zip = startsWith(0x50, 0x4b, 0x03, 0x04);
const elf = startsWith(0x7f, 0x45, 0x4c, 0x46);
const exe = ascii("MZ");
const html: Signature = (b) => {
  const head = String.fromCharCode(...b.subarray(0, 64))
    .trimStart()
    .toLowerCase();
  return (
    head.startsWith("<!doctype html") || head.startsWith("<html") || head.startsWith("<script")
  );
};
const mpeg: Signature = (b) =>
  ascii("ID3")(b) || (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0);
const adts: Signature = (b) =>
  ascii("ADIF")(b) || (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0);

/** Bytes a sniff needs from the start of a file. */
export const SNIFF_BYTES = 512;

/** What the content is by signature, most specific first (undefined: no known signature). */
const known: readonly (readonly [string, Signature])[] = [
  ["image/jpeg", jpeg],
  ["image/png", png],
  ["image/gif", gif],
  ["image/webp", webp],
  ["video/mp4", isoMedia],
  ["audio/ogg", ogg],
  ["audio/amr", amr],
  ["application/pdf", pdf],
  ["application/x-ole-storage", ole],
  ["application/zip", zip],
  ["application/x-executable", elf],
  ["application/x-msdownload", exe],
  ["text/html", html],
  ["audio/mpeg", mpeg],
];

/** The signature each declared type's content must have. */
const expected: Readonly<Record<string, Signature>> = {
  "image/jpeg": jpeg,
  "image/png": png,
  "image/webp": webp,
  "video/mp4": isoMedia,
  "video/3gpp": isoMedia,
  "audio/mp4": isoMedia,
  "audio/ogg": ogg,
  "audio/amr": amr,
  "audio/mpeg": mpeg,
  "audio/aac": adts,
  "application/pdf": pdf,
  "application/msword": ole,
  "application/vnd.ms-excel": ole,
  "application/vnd.ms-powerpoint": ole,
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": zip,
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": zip,
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": zip,
};

/** Formats that are never accepted, whatever was declared (text/plain included). */
const dangerous = new Set(["application/x-executable", "application/x-msdownload", "text/html"]);

export const bareMime = (mimeType: string): string =>
  (mimeType.split(";")[0] ?? "").trim().toLowerCase();

/** The content's type by signature, or undefined. */
export function sniff(head: Uint8Array): string | undefined {
  return known.find(([, signature]) => signature(head))?.[0];
}

/**
 * Why the first bytes `head` are not what `declared` says, or undefined when they are (or when
 * the declared type has no signature to check and the content is not a dangerous format).
 */
export function contentMismatch(declared: string, head: Uint8Array): string | undefined {
  const bare = bareMime(declared);
  const actual = sniff(head);
  const signature = expected[bare];
  if (signature !== undefined) {
    if (signature(head)) return undefined;
    return actual === undefined
      ? `the content is not ${bare}`
      : `the content is ${actual}, not the declared ${bare}`;
  }
  if (actual !== undefined && dangerous.has(actual))
    return `the content is ${actual}, refused whatever the declared ${bare}`;
  if (bare === "text/plain" && actual !== undefined)
    return `the content is ${actual}, not the declared text/plain`;
  return undefined;
}
