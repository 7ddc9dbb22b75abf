import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  const destination = { write: (line: string) => void lines.push(line) };
  const logger = createLogger({ service: "ingress", level: "trace", destination });
  const output = () => lines.join("");
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, output, records };
}

const SECRETS = {
  accessToken: "EAAGm0PX4ZCpsBAKZCZAaccess",
  appSecret: "app-secret-7f3a9c",
  opsToken: "ops-token-51d0e2",
  password: "hunter2-password",
  bearer: "bearer-credential-9b8a",
  cookie: "session=cookie-value-3c4d",
  verifyToken: "verify-token-8e7f",
  signature: "d2f1c0ffee0123456789abcdef0123456789abcdef0123456789abcdef012345",
};

describe("createLogger: secrets never reach the output", () => {
  it("censors secrets in every shape they arrive in", () => {
    const { logger, output } = capture();
    const req = {
      method: "POST",
      url: "/webhook",
      headers: {
        authorization: `Bearer ${SECRETS.bearer}`,
        cookie: SECRETS.cookie,
        "x-hub-signature-256": `sha256=${SECRETS.signature}`,
      },
    };
    logger.info({ req }, "webhook received");
    logger.info(
      { headers: { Authorization: `Bearer ${SECRETS.bearer}`, AUTHORIZATION: SECRETS.bearer } },
      "casing",
    );
    logger.info(
      {
        config: {
          WA_ACCESS_TOKEN: SECRETS.accessToken,
          WA_APP_SECRET: SECRETS.appSecret,
          OPS_TOKEN: SECRETS.opsToken,
          MONGO_URL: `mongodb://parley:${SECRETS.password}@127.0.0.1:27017/db`,
        },
      },
      "config loaded",
    );
    logger.info(
      {
        deep: {
          a: {
            b: {
              c: { appSecret: SECRETS.appSecret, list: [{ accessToken: SECRETS.accessToken }] },
            },
          },
        },
      },
      "deep",
    );
    logger.info({ rawHeaders: ["Authorization", `Bearer ${SECRETS.bearer}`] }, "raw headers");
    logger.info(
      `calling https://graph.facebook.com/v21.0/123/messages?access_token=${SECRETS.accessToken}`,
    );
    logger.info("verify %s with hub.verify_token=%s", "GET", SECRETS.verifyToken);
    logger.info(
      { body: `{"access_token":"${SECRETS.accessToken}","password":"${SECRETS.password}"}` },
      "raw body",
    );

    const graphError = Object.assign(
      new Error(`request failed: Authorization: Bearer ${SECRETS.bearer}`),
      {
        config: {
          headers: { Authorization: `Bearer ${SECRETS.bearer}` },
          data: { appSecret: SECRETS.appSecret },
        },
      },
    );
    logger.error(graphError);
    logger.error({ err: new Error("outer", { cause: graphError }) }, "send failed");
    logger.warn(new Error(`bad token ${SECRETS.accessToken}`), "with message");

    const child = logger.child({ opsToken: SECRETS.opsToken, component: "ops" });
    child.info({ password: SECRETS.password }, "child line");
    child.child({ nested: { appSecret: SECRETS.appSecret } }).info("grandchild line");
    child.setBindings({ token: SECRETS.opsToken });
    child.info("after setBindings");

    const text = output();
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(text, `${name} leaked`).not.toContain(secret);
    }
    expect(text).toContain("[REDACTED]");
    // the useful parts survive
    expect(text).toContain("webhook received");
    expect(text).toContain("/webhook");
    expect(text).toContain('"component":"ops"');
    expect(text).toContain("grandchild line");
  });

  it("keeps ordinary fields as they are", () => {
    const { logger, records } = capture();
    logger.info(
      { requestId: "req-1", wamid: "wamid.HBgLMTU1", status: "sent", tokens: 12 },
      "sent",
    );
    expect(records()[0]).toMatchObject({
      service: "ingress",
      level: "info",
      msg: "sent",
      requestId: "req-1",
      wamid: "wamid.HBgLMTU1",
      status: "sent",
      tokens: 12,
    });
  });
});

describe("createLogger: phone numbers are masked", () => {
  const phone = "+5511987654321";
  const bare = "5511987654321";
  const masked = "+55*******4321";

  it("in messages, format arguments, fields, nested objects, child bindings and errors", () => {
    const { logger, output, records } = capture();
    logger.info(`message to ${phone}`);
    logger.info("template to %s", bare);
    logger.info(
      { to: phone, contact: { wa_id: bare, profile: { name: "Ana" } }, recipients: [phone] },
      "fields",
    );
    logger.child({ contact: phone }).info("child");
    logger.error(new Error(`recipient ${phone} is not on WhatsApp`));
    logger.error(
      { err: new Error("wrapped", { cause: new Error(`pair rate limit for ${bare}`) }) },
      "failed",
    );
    logger.info({ waId: 5511987654321 }, "numeric wa id");

    const text = output();
    expect(text).not.toContain(bare);
    expect(text).toContain(masked);
    const [first, second, third] = records();
    expect(first?.["msg"]).toBe(`message to ${masked}`);
    expect(second?.["msg"]).toBe("template to 55*******4321");
    expect(third).toMatchObject({
      to: masked,
      contact: { wa_id: "55*******4321", profile: { name: "Ana" } },
    });
  });

  it("keeps errors readable: type, message and stack survive the scrub", () => {
    const { logger, records } = capture();
    logger.error(new TypeError(`no route to ${phone}`));
    const record = records()[0];
    expect(record?.["msg"]).toBe(`no route to ${masked}`);
    expect(record?.["err"]).toMatchObject({ type: "TypeError", message: `no route to ${masked}` });
    expect(String((record?.["err"] as Record<string, unknown>)["stack"])).toContain(
      "logger.unit.spec",
    );
  });
});

describe("createLogger: shape", () => {
  it("writes one JSON object per line with service, level label and ISO time, and no trace ids outside a span", () => {
    const { logger, records } = capture();
    logger.debug("hello");
    const record = records()[0];
    expect(record).toMatchObject({ service: "ingress", level: "debug", msg: "hello" });
    expect(typeof record?.["time"]).toBe("string");
    expect(record).not.toHaveProperty("trace_id");
  });

  it("respects the level", () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: "x",
      level: "warn",
      destination: { write: (l: string) => void lines.push(l) },
    });
    logger.info("dropped");
    logger.warn("kept");
    expect(lines).toHaveLength(1);
  });
});
