import { randomBytes } from "node:crypto";
import { describeObjectStore } from "../../storage/object-store-contract.unit-helpers.js";
import { createS3ObjectStore } from "./s3-object-store.js";

// A real S3-compatible server (s3proxy, infra/native/s3proxy/s3proxy.sh; the test scripts start
// it and export S3_ENDPOINT and its credentials).
const endpoint = process.env["S3_ENDPOINT"];
if (endpoint === undefined)
  throw new Error("S3_ENDPOINT is not set: start infra/native/s3proxy/s3proxy.sh and eval its env");

describeObjectStore("S3 (s3proxy)", async () => {
  const store = createS3ObjectStore({
    endpoint,
    bucket: "parley-media-test",
    accessKeyId: process.env["S3_ACCESS_KEY_ID"] ?? "parley",
    secretAccessKey: process.env["S3_SECRET_ACCESS_KEY"] ?? "parley-local-secret",
    prefix: `${randomBytes(4).toString("hex")}/`,
  });
  await store.ensureBucket();
  return store;
});
