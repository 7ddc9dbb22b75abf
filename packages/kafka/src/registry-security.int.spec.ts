import {
  createTestPki,
  startHttpsBasicAuthProxy,
  startStack,
  type Namespace,
  type Stack,
  type TestPki,
  type TlsFront,
} from "@parley/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRegistry,
  createRegistryProbe,
  registryAccessProblem,
  SchemaType,
} from "./registry.js";

// The registry behind https with basic auth, as Confluent Cloud and Aiven serve theirs: the real
// registry of the stack, fronted by an authenticating TLS proxy with a CA generated for the test.
// The client and its probe take the CA and the credentials; a wrong password and an untrusted
// certificate come back as problems naming the variables to fix.
const credentials = { username: "parley-sr", password: "registry-password-1" };
let stack: Stack;
let ns: Namespace;
let pki: TestPki;
let front: TlsFront;
let url = "";

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("registry-tls");
  pki = createTestPki();
  front = await startHttpsBasicAuthProxy(pki, stack.schemaRegistryUrl, credentials);
  url = `https://127.0.0.1:${String(front.port)}${new URL(stack.schemaRegistryUrl).pathname}`;
});

afterAll(async () => {
  await front.close();
  await stack.stop();
});

const probeError = (options: Parameters<typeof createRegistryProbe>[0]) =>
  createRegistryProbe(options)
    .check(AbortSignal.timeout(5_000))
    .then(
      () => undefined,
      (error: unknown) => error,
    );

describe("schema registry over https with basic auth", () => {
  it("registers, encodes and decodes with the CA and the credentials; the probe answers", async () => {
    const registry = createRegistry({ url, ...credentials, ca: pki.ca });
    const subject = `${ns.topic("secured")}-value`;
    const schema = {
      type: "object",
      properties: { n: { type: "integer" } },
      required: ["n"],
    };
    const { id } = await registry.register(
      { type: SchemaType.JSON, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(await registry.decode(await registry.encode(id, { n: 7 }))).toEqual({ n: 7 });
    expect(await probeError({ url, ...credentials, ca: pki.ca })).toBeUndefined();
  });

  it("a wrong password is a problem naming SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD", async () => {
    const error = await probeError({
      url,
      ...credentials,
      password: "wrong-password-1",
      ca: pki.ca,
    });
    expect(registryAccessProblem(error)).toBe(
      "SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD: the registry refused them (HTTP 401)",
    );
  });

  it("a certificate its CA bundle did not sign, or none given, is a problem naming SCHEMA_REGISTRY_TLS_CA", async () => {
    for (const ca of [pki.otherCa, undefined]) {
      const error = await probeError({ url, ...credentials, ca });
      expect(registryAccessProblem(error)).toMatch(
        /^SCHEMA_REGISTRY_TLS_CA: the server's certificate is not trusted \([A-Z_]+\)/,
      );
    }
  });
});
