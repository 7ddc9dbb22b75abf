// A media upload's file and the multipart body a streamed one is sent in (Graph's /media).

/** A file to upload: in memory (`data`) or as a stream of exactly `size` bytes (`body`). */
export type MediaUploadFile = {
  readonly mimeType: string;
  readonly filename?: string;
  readonly animatedSticker?: boolean;
} & (
  | { readonly data: Uint8Array }
  | { readonly body: AsyncIterable<Uint8Array | string>; readonly size: number }
);

/** The multipart body around a streamed file: the file's bytes checked against its size. */
export async function* multipartStream(
  head: Buffer,
  file: AsyncIterable<Uint8Array | string>,
  size: number,
  tail: Buffer,
): AsyncGenerator<Buffer> {
  yield head;
  let seen = 0;
  for await (const chunk of file) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
    seen += bytes.length;
    if (seen > size)
      throw new RangeError(`the file has more than the ${String(size)} bytes announced`);
    yield bytes;
  }
  if (seen !== size)
    throw new RangeError(`the file has ${String(seen)} bytes, ${String(size)} announced`);
  yield tail;
}
