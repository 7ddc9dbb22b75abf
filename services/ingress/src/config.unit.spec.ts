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
    expect(c.WEBHOOK_ALLOWED_CIDRS).toEqual(["173.252.64.0/18", "2a03:2880::/32"]);
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
