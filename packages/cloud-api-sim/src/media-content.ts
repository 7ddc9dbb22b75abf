// What a media file really is, from its first bytes: Meta refuses a file whose content does not
// match its declared MIME type with 131053 (reference §5), and sizes a WebP sticker by whether it
// is animated (100 KB static, 500 KB animated).

type Signature = (b: Buffer) => boolean;

const startsWith =
  (...bytes: number[]): Signature =>
  (b) =>
    b.length >= bytes.length && bytes.every((x, i) => b[i] === x);
const ascii = (s: string, at = 0): Signature => {
  const bytes = Buffer.from(s, "latin1");
  return (b) => b.length >= at + bytes.length && b.subarray(at, at + bytes.length).equals(bytes);
};

const jpeg = startsWith(0xff, 0xd8, 0xff);
const png = startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const webp: Signature = (b) => ascii("RIFF")(b) && ascii("WEBP", 8)(b);
const isoMedia = ascii("ftyp", 4); // mp4, 3gpp, m4a
const ogg = ascii("OggS");
const amr = ascii("#!AMR");
const pdf = ascii("%PDF-");
const ole = startsWith(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1); // doc, xls, ppt
const zip = startsWith(0x50, 0x4b, 0x03, 0x04); // docx, xlsx, pptx
const mpeg: Signature = (b) =>
  ascii("ID3")(b) || (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0);
const adts: Signature = (b) =>
  ascii("ADIF")(b) || (b.length >= 2 && b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0);

/** The signature each supported MIME type's content must have (none for text/plain). */
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

/** Binary formats a text/plain file must not be. */
const binary: readonly [string, Signature][] = [
  ["image/jpeg", jpeg],
  ["image/png", png],
  ["image/webp", webp],
  ["video/mp4", isoMedia],
  ["audio/ogg", ogg],
  ["application/pdf", pdf],
  ["application/msword", ole],
  ["application/zip", zip],
];

/**
 * Why the content is not what `mimeType` declares, or undefined when it is. A bare MIME type
 * (parameters such as `; codecs=opus` dropped) is expected.
 */
export function contentMismatch(mimeType: string, data: Buffer): string | undefined {
  const bare = (mimeType.split(";")[0] ?? "").trim().toLowerCase();
  const signature = expected[bare];
  if (signature !== undefined) {
    if (signature(data)) return undefined;
    const actual = binary.find(([, sig]) => sig(data))?.[0];
    return actual === undefined
      ? `The file content is not ${bare}.`
      : `The file content is ${actual}, not the declared ${bare}.`;
  }
  if (bare === "text/plain") {
    const actual = binary.find(([, sig]) => sig(data))?.[0];
    if (actual !== undefined) return `The file content is ${actual}, not the declared text/plain.`;
  }
  return undefined;
}

/**
 * Whether a WebP file is animated: its extended header (VP8X) has the animation flag, or it
 * holds an ANIM chunk. Chunks are walked from offset 12, bounded by the file.
 */
export function isAnimatedWebp(data: Buffer): boolean {
  if (!webp(data)) return false;
  let at = 12;
  for (let i = 0; i < 64 && at + 8 <= data.length; i++) {
    const fourcc = data.toString("latin1", at, at + 4);
    const size = data.readUInt32LE(at + 4);
    if (fourcc === "VP8X" && at + 9 <= data.length && ((data[at + 8] ?? 0) & 0x02) !== 0)
      return true;
    if (fourcc === "ANIM" || fourcc === "ANMF") return true;
    at += 8 + size + (size % 2);
  }
  return false;
}

/** A few bytes of the right kind for a MIME type: the content a simulated user's file starts with. */
export function sampleContent(mimeType: string, tail: string): Buffer {
  const bare = (mimeType.split(";")[0] ?? "").trim().toLowerCase();
  const head: Record<string, Buffer> = {
    "image/jpeg": Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
    "image/png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    "image/webp": Buffer.concat([
      Buffer.from("RIFF"),
      Buffer.from([0x04, 0, 0, 0]),
      Buffer.from("WEBPVP8 "),
    ]),
    "video/mp4": Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypmp42")]),
    "audio/ogg": Buffer.from("OggS"),
    "audio/mpeg": Buffer.from("ID3"),
    "application/pdf": Buffer.from("%PDF-1.7\n"),
  };
  return Buffer.concat([head[bare] ?? Buffer.alloc(0), Buffer.from(tail)]);
}
