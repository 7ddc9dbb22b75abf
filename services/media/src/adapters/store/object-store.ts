import type { Config } from "../../config.js";
import type { ObjectStore } from "../../storage/port.js";
import { createFsObjectStore } from "./fs-object-store.js";
import { createS3ObjectStore } from "./s3-object-store.js";

/** The configured object store (MEDIA_STORE), with a close for the composition root. */
export async function createObjectStore(
  config: Pick<
    Config,
    | "MEDIA_STORE"
    | "MEDIA_STORE_DIR"
    | "MEDIA_S3_ENDPOINT"
    | "MEDIA_S3_BUCKET"
    | "MEDIA_S3_REGION"
    | "MEDIA_S3_PREFIX"
    | "MEDIA_S3_ACCESS_KEY_ID"
    | "MEDIA_S3_SECRET_ACCESS_KEY"
  >,
): Promise<ObjectStore & { close(): Promise<void> }> {
  if (config.MEDIA_STORE === "filesystem") {
    const store = createFsObjectStore({ root: config.MEDIA_STORE_DIR });
    // Temporary files of puts a crash interrupted are never objects; an hour old, they go.
    await store.sweepTemporary(3_600_000, Date.now());
    return { ...store, close: () => Promise.resolve() };
  }
  const store = createS3ObjectStore({
    endpoint: config.MEDIA_S3_ENDPOINT ?? "",
    bucket: config.MEDIA_S3_BUCKET,
    region: config.MEDIA_S3_REGION,
    prefix: config.MEDIA_S3_PREFIX,
    accessKeyId: config.MEDIA_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: config.MEDIA_S3_SECRET_ACCESS_KEY ?? "",
  });
  await store.ensureBucket();
  return store;
}
