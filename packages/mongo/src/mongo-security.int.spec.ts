import {
  createTestPki,
  startStack,
  startTlsTunnel,
  type Stack,
  type TestPki,
  type TlsFront,
} from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMongo, mongoAccessProblem } from "./connection.js";

// MongoDB over TLS: the stack's real server behind a TLS tunnel with a CA generated for the test
// (the local MongoDB-wire server speaks no TLS itself). The connection takes the CA from its
// options; a certificate the CA bundle did not sign is a problem naming MONGO_TLS_CA.
let stack: Stack;
let pki: TestPki;
let tunnel: TlsFront;
let url = "";
const database = `mongo-tls-${String(process.pid)}-${String(Date.now() % 100_000)}`;

beforeAll(async () => {
  stack = await startStack();
  pki = createTestPki();
  const target = new URL(stack.mongoUrl.replace(/^mongodb:/, "http:"));
  tunnel = await startTlsTunnel(pki, { host: target.hostname, port: Number(target.port) });
  url = `mongodb://127.0.0.1:${String(tunnel.port)}/?directConnection=true&retryWrites=false`;
});

afterAll(async () => {
  const plain = createMongo({ url: stack.mongoUrl, database, appName: "mongo-tls-cleanup" });
  await plain.db.dropDatabase();
  await plain.close();
  await tunnel.close();
  await stack.stop();
});

describe("MongoDB over TLS", () => {
  it("writes and reads through TLS with the CA bundle", async () => {
    const mongo = createMongo({ url, database, appName: "mongo-tls", tls: { ca: pki.ca } });
    try {
      await mongo.probe.check(AbortSignal.timeout(5_000));
      await mongo.db.collection("things").insertOne({ _id: "a" as never, n: 1 });
      expect(await mongo.db.collection("things").findOne({ _id: "a" as never })).toEqual({
        _id: "a",
        n: 1,
      });
    } finally {
      await mongo.close();
    }
  });

  it("a certificate its CA bundle did not sign, or none given, is a problem naming MONGO_TLS_CA", async () => {
    for (const tls of [{ ca: pki.otherCa }, true] as const) {
      const mongo = createMongo({ url, database, appName: "mongo-tls-untrusted", tls });
      try {
        const error = await mongo.probe.check(AbortSignal.timeout(5_000)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(mongoAccessProblem(error)).toMatch(
          /^MONGO_TLS_CA: the server's certificate is not trusted \([A-Z_]+\)/,
        );
      } finally {
        await mongo.close();
      }
    }
  });
});
