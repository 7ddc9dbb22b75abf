import { createHash } from "node:crypto";
import { ConfigError, loadConfig } from "@parley/config";
import { describe, expect, it } from "vitest";
import { configSchema } from "./config.js";

const base = { OPS_TOKEN: "ops-token-123" };
const load = (env: Record<string, string>, files: Record<string, string> = {}) =>
  loadConfig(configSchema, {
    service: "ingress",
    env: { ...base, ...env },
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) throw new Error("no such file");
      return content;
    },
  });

const problemsOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
};

describe("ingress config", () => {
  it("has visible defaults for the webhook listener", () => {
    const c = load({ WA_VERIFY_TOKEN: "verify-123", WA_APP_SECRET: "secret-123" });
    expect(c.WEBHOOK_PORT).toBe(8088);
    expect(c.HTTP_PORT).toBe(8080);
    expect(c.WEBHOOK_BODY_LIMIT_BYTES).toBe(3 * 1024 * 1024);
    expect(c.WEBHOOK_APPEND_TIMEOUT_MS).toBe(5000);
    expect(c.WEBHOOK_ALLOWED_CIDRS).toEqual([]);
    expect(c.WEBHOOK_TRUST_PROXY).toBe(false);
    expect(c.WA_GRAPH_VERSION).toBe("v23.0");
    expect(c.WA_APP_SECRET_PREVIOUS).toBeUndefined();
    expect(c.PARLEY_TOPIC_PREFIX).toBe("");
  });

  it("reads the secrets from *_FILE and parses the lists", () => {
    const c = load(
      {
        WA_VERIFY_TOKEN_FILE: "/run/secrets/verify",
        WA_APP_SECRET_FILE: "/run/secrets/app",
        WA_APP_SECRET_PREVIOUS: "previous-secret",
        WEBHOOK_ALLOWED_CIDRS: " 173.252.64.0/18, 2a03:2880::/32 ,",
        WEBHOOK_TRUST_PROXY: "1",
      },
      { "/run/secrets/verify": "verify-from-file\n", "/run/secrets/app": "app-from-file" },
    );
    expect(c.WA_VERIFY_TOKEN).toBe("verify-from-file");
    expect(c.WA_APP_SECRET).toBe("app-from-file");
    expect(c.WA_APP_SECRET_PREVIOUS).toBe("previous-secret");
    expect(c.WEBHOOK_ALLOWED_CIDRS).toEqual([
      { network: "173.252.64.0", prefix: 18, family: "ipv4" },
      { network: "2a03:2880::", prefix: 32, family: "ipv6" },
    ]);
    expect(c.WEBHOOK_TRUST_PROXY).toBe(1);
    expect(load({ WEBHOOK_TRUST_PROXY: "loopback, 10.0.0.0/8" }).WEBHOOK_TRUST_PROXY).toBe(
      "loopback, 10.0.0.0/8",
    );
  });

  it("runs without the webhook secrets (chassis only), but not with one of them", () => {
    expect(load({}).WA_APP_SECRET).toBeUndefined();
    expect(problemsOf(() => load({ WA_APP_SECRET: "secret-123" }))).toMatch(/WA_VERIFY_TOKEN/);
    expect(problemsOf(() => load({ WA_VERIFY_TOKEN: "verify-123" }))).toMatch(/WA_APP_SECRET/);
  });

  it("lists every problem at once, without echoing secret values", () => {
    const message = problemsOf(() =>
      load({
        WA_VERIFY_TOKEN: "short",
        WA_APP_SECRET: "tiny",
        WEBHOOK_ALLOWED_CIDRS: "10.0.0.0/33,meta",
        WA_GRAPH_VERSION: "23",
      }),
    );
    expect(message).toMatch(/WA_VERIFY_TOKEN/);
    expect(message).toMatch(/WA_APP_SECRET/);
    expect(message).toMatch(/10\.0\.0\.0\/33/);
    expect(message).toMatch(/WA_GRAPH_VERSION/);
    expect(message).not.toContain("tiny");
  });
});

describe("ingress config: the send API keys (SEND_API_KEYS, or SEND_API_KEYS_FILE)", () => {
  const hash = (key: string) => createHash("sha256").update(key, "utf8").digest("hex");
  const entries = [
    {
      id: "orders",
      keySha256: hash("orders-key-0123"),
      scopes: ["messages:send"],
      requester: "orders",
    },
    {
      id: "support",
      keySha256: hash("support-key-0123"),
      scopes: ["messages:send", "messages:read"],
      requester: "support-desk",
    },
  ];
  const json = JSON.stringify(entries);

  it("is off (no keys) with neither variable or an empty list", () => {
    expect(load({}).SEND_API_KEYS).toEqual([]);
    expect(load({ SEND_API_KEYS: "[]" }).SEND_API_KEYS).toEqual([]);
  });

  it("reads the keys inline, or from the file SEND_API_KEYS_FILE names (each alone works)", () => {
    expect(load({ SEND_API_KEYS: json }).SEND_API_KEYS).toEqual(entries);
    expect(
      load({ SEND_API_KEYS_FILE: "/run/secrets/keys" }, { "/run/secrets/keys": `${json}\n` })
        .SEND_API_KEYS,
    ).toEqual(entries);
  });

  it("refuses both at once, and a file it cannot read, as configuration problems (exit 78)", () => {
    const both = (() => {
      try {
        load(
          { SEND_API_KEYS: json, SEND_API_KEYS_FILE: "/run/secrets/keys" },
          {
            "/run/secrets/keys": json,
          },
        );
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    // A ConfigError: the service prints every problem and exits with 78 (loadConfigOrExit).
    expect(both).toBeInstanceOf(ConfigError);
    expect((both as ConfigError).message).toMatch(/SEND_API_KEYS or SEND_API_KEYS_FILE, not both/);
    expect(problemsOf(() => load({ SEND_API_KEYS_FILE: "/missing" }))).toMatch(
      /SEND_API_KEYS_FILE: cannot read \/missing/,
    );
  });

  it("lists every problem of the list at once", () => {
    const message = problemsOf(() =>
      load({
        SEND_API_KEYS: JSON.stringify([
          { id: "bad id!", keySha256: "abc", scopes: ["messages:delete"], requester: "" },
          { id: "x", keySha256: hash("k"), scopes: [], requester: "x", extra: 1 },
        ]),
      }),
    );
    expect(message).toMatch(/\[0\]\[id\]/);
    expect(message).toMatch(/\[0\]\[keySha256\].*sha256sum/);
    expect(message).toMatch(/\[0\]\[scopes\]\[0\]/);
    expect(message).toMatch(/\[0\]\[requester\]/);
    expect(message).toMatch(/\[1\]\[scopes\]/);
    expect(message).toMatch(/\[1\].*extra/);
  });

  it("refuses JSON that does not parse, a hash twice, one id with two requesters, one requester under two ids", () => {
    expect(problemsOf(() => load({ SEND_API_KEYS: "{" }))).toMatch(/not JSON/);
    const [orders, support] = entries;
    expect(
      problemsOf(() =>
        load({ SEND_API_KEYS: JSON.stringify([orders, { ...orders, id: "other" }]) }),
      ),
    ).toMatch(/twice/);
    expect(
      problemsOf(() =>
        load({ SEND_API_KEYS: JSON.stringify([orders, { ...support, id: "orders" }]) }),
      ),
    ).toMatch(/same requester/);
    expect(
      problemsOf(() =>
        load({ SEND_API_KEYS: JSON.stringify([orders, { ...support, requester: "orders" }]) }),
      ),
    ).toMatch(/already belongs to id "orders"/);
  });

  it("accepts two keys under one id with one requester (a rotation)", () => {
    const [orders] = entries;
    const rotation = [orders, { ...orders, keySha256: hash("orders-key-new-1") }];
    expect(load({ SEND_API_KEYS: JSON.stringify(rotation) }).SEND_API_KEYS).toHaveLength(2);
  });
});
