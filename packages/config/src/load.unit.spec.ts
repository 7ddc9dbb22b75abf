import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { chassisFields, env, infraFields } from "./fields.js";
import { loadConfig } from "./load.js";

const schema = z.object({
  ...infraFields,
  ...chassisFields,
  WA_APP_SECRET: env.secret(),
  RETRIES: env.int(3, { max: 10 }),
});
const base = { OPS_TOKEN: "ops-token-123", WA_APP_SECRET: "app-secret-xyz" };
const noFiles = (): string => {
  throw new Error("no file reads expected");
};

describe("loadConfig", () => {
  it("applies defaults and coerces types", () => {
    const config = loadConfig(schema, {
      service: "t",
      env: { ...base, KAFKA_BROKERS: "a:1, b:2", HTTP_PORT: "9000" },
      readFile: noFiles,
    });
    expect(config.KAFKA_BROKERS).toEqual(["a:1", "b:2"]);
    expect(config.HTTP_PORT).toBe(9000);
    expect(config.RETRIES).toBe(3);
    expect(config.LOG_LEVEL).toBe("info");
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe(30_000);
  });

  it("lists every problem at once, naming each variable", () => {
    const attempt = () =>
      loadConfig(schema, {
        service: "sender",
        env: {
          HTTP_PORT: "99999",
          RETRIES: "50",
          LOG_LEVEL: "loud",
          SCHEMA_REGISTRY_URL: "not a url",
        },
        readFile: noFiles,
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems.join("\n");
      for (const key of [
        "HTTP_PORT",
        "RETRIES",
        "LOG_LEVEL",
        "SCHEMA_REGISTRY_URL",
        "OPS_TOKEN",
        "WA_APP_SECRET",
      ]) {
        expect(problems).toContain(key);
      }
      expect((error as ConfigError).message).toMatch(
        /^sender: invalid configuration \(6 problems\)/,
      );
    }
  });

  it("never echoes a rejected value, so a mistyped secret cannot leak into logs", () => {
    try {
      loadConfig(schema, {
        service: "t",
        env: { ...base, WA_APP_SECRET: "short" },
        readFile: noFiles,
      });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain("short");
      expect((error as Error).message).toContain("WA_APP_SECRET");
    }
  });

  it("reads secrets from *_FILE without the trailing newline", () => {
    const files: Record<string, string> = { "/run/secrets/app": "from-a-file-secret\n" };
    const config = loadConfig(schema, {
      service: "t",
      env: { OPS_TOKEN: "ops-token-123", WA_APP_SECRET_FILE: "/run/secrets/app" },
      readFile: (p) => files[p] ?? "",
    });
    expect(config.WA_APP_SECRET).toBe("from-a-file-secret");
  });

  it("rejects both KEY and KEY_FILE, and unreadable files, alongside other problems", () => {
    try {
      loadConfig(schema, {
        service: "t",
        env: { OPS_TOKEN: "x", OPS_TOKEN_FILE: "/a", WA_APP_SECRET_FILE: "/missing" },
        readFile: () => {
          throw new Error("ENOENT");
        },
      });
      expect.unreachable();
    } catch (error) {
      const problems = (error as ConfigError).problems;
      expect(problems).toContain("OPS_TOKEN: set either OPS_TOKEN or OPS_TOKEN_FILE, not both");
      expect(problems.some((p) => p.startsWith("WA_APP_SECRET_FILE: cannot read /missing"))).toBe(
        true,
      );
    }
  });

  it("refuses a schema that declares KEY_FILE beside KEY (the generic file loader owns it)", () => {
    const clash = z.object({ KEYS: z.string().optional(), KEYS_FILE: z.string().optional() });
    expect(() => loadConfig(clash, { service: "svc", env: {} })).toThrow(
      /declares both KEYS and KEYS_FILE/,
    );
  });

  it("returns a deeply frozen object", () => {
    const config = loadConfig(schema, { service: "t", env: base, readFile: noFiles });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.KAFKA_BROKERS)).toBe(true);
  });

  it("treats an empty variable as unset", () => {
    const config = loadConfig(schema, {
      service: "t",
      env: { ...base, LOG_LEVEL: "" },
      readFile: noFiles,
    });
    expect(config.LOG_LEVEL).toBe("info");
  });
});
