// The CLI's flags and environment become SimulatorOptions: per-number throughput, extra numbers,
// per-number tokens, latency injection; bad values are usage errors, never a half-started server.
import { describe, expect, it } from "vitest";
import { createManualClock } from "./clock.js";
import { CliUsageError, parseCli } from "./cli-options.js";
import { answerOf } from "./harness.unit-helpers.js";
import { createSimulator } from "./simulator.js";

const noFile = (): string => {
  throw new Error("no config file in this test");
};

describe("parseCli", () => {
  it("configures business numbers with their own throughput and tokens", () => {
    const config = parseCli(
      ["--mps", "1000", "--number", "106540352242923:15550783882:20", "--latency-ms", "250"],
      {
        PARLEY_SIM_ACCESS_TOKENS: "tok-a=106540352242922, tok-b=106540352242923",
        PARLEY_SIM_APP_SECRET: "s3cret",
      },
      noFile,
    );
    expect(config.port).toBe(4010);
    const sim = createSimulator({
      ...config.options,
      clock: createManualClock(),
      deliver: () => Promise.resolve(200),
    });
    expect(sim.appSecret).toBe("s3cret");
    expect(sim.stats().map((s) => [s.phoneNumberId, s.throughputMps])).toEqual([
      ["106540352242922", 1000],
      ["106540352242923", 20],
    ]);
    const send = (pn: string, token: string) =>
      sim.handle({
        method: "POST",
        path: `/v23.0/${pn}/messages`,
        query: new URLSearchParams(),
        headers: { authorization: `Bearer ${token}` },
        body: Buffer.from(
          JSON.stringify({
            messaging_product: "whatsapp",
            to: "+16505551234",
            type: "text",
            text: { body: "hi" },
          }),
        ),
      });
    const ok = send("106540352242923", "tok-b");
    expect(ok.kind === "answer" && ok.status === 200 && ok.delayMs === 250).toBe(true);
    const denied = answerOf(send("106540352242923", "tok-a"));
    expect((denied.json["error"] as { code: number }).code).toBe(200);
  });

  it("keeps the single-token and config-file set-ups", () => {
    const config = parseCli(
      ["--config", "sim.json", "--port", "0"],
      { PARLEY_SIM_ACCESS_TOKEN: "dev-token" },
      () =>
        JSON.stringify({
          seed: "from-file",
          businesses: [
            {
              wabaId: "1",
              phoneNumbers: [{ id: "2", displayPhoneNumber: "15550783881", throughputMps: 5 }],
            },
          ],
        }),
    );
    expect(config.port).toBe(0);
    expect(config.options.accessTokens).toEqual([{ token: "dev-token" }]);
    expect(config.options.seed).toBe("from-file");
    expect(config.options.businesses?.[0]?.phoneNumbers[0]?.throughputMps).toBe(5);
  });

  it("rejects bad values with a usage error", () => {
    for (const argv of [
      ["--mps", "0"],
      ["--number", "abc:15550783882"],
      ["--number", "1:2:3:4"],
      ["--latency-ms", "-1"],
      ["--port", "70000"],
      ["--bogus"],
    ])
      expect(() => parseCli(argv, {}, noFile), argv.join(" ")).toThrow(CliUsageError);
    expect(() => parseCli([], { PARLEY_SIM_ACCESS_TOKENS: "=1" }, noFile)).toThrow(CliUsageError);
  });
});
