// Graph tokens watched (issue 28): debug_token against the Cloud API simulator over HTTP, the
// expiry and validity as Prometheus series, and token files rotated on disk without a restart.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_APP_ID,
  DEFAULT_APP_SECRET,
  createSimulator,
  serveSimulator,
  type Simulator,
  type SimulatorServer,
} from "@parley/cloud-api-sim";
import { parseNumberDirectory } from "@parley/numbers";
import { createLogger, createMetrics, type Metrics } from "@parley/telemetry";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appTokenParser } from "../../config.js";
import { createSenderMetrics } from "../../metrics.js";
import { createTokenWatch } from "../../sending/tokens.js";
import { AppTokenRefusedError, createGraph } from "../graph/graph.js";
import { createTokenFiles } from "./token-files.js";

const WABA = "102290129340398";
const ROTATED = "106540352249001"; // its token lives in a file, rotated by the test
const EXPIRING = "106540352249002"; // its token expires in 10 days (inline)
const FOREVER = "106540352249003"; // a never-expiring token from an env variable
const DAY = 86_400_000;

let sim: Simulator;
let server: SimulatorServer;
let dir: string;
let metrics: Metrics;
let observer: ReturnType<typeof createSenderMetrics>;
const lines: Record<string, unknown>[] = [];

/** Writes a token file the way a rotation tool does: a new file renamed over the old one. */
function rotate(path: string, content: string): void {
  const tmp = `${path}.${String(Math.random()).slice(2)}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** One series' value from the /metrics text, for a business number. */
async function series(name: string, number: string): Promise<string | undefined> {
  const text = await metrics.metrics();
  const re = new RegExp(`^parley_${name}\\{[^}]*business_number="${number}"[^}]*\\} (\\S+)$`, "m");
  return re.exec(text)?.[1];
}

function setUp(now: number, appToken?: string) {
  const file = join(dir, "rotated.token");
  rotate(file, "file-token-1\n");
  const directory = parseNumberDirectory(
    {
      numbers: [
        { phoneNumberId: ROTATED, wabaId: WABA, accessTokenFile: file },
        { phoneNumberId: EXPIRING, wabaId: WABA, accessToken: "expiring-token" },
        { phoneNumberId: FOREVER, wabaId: WABA, accessTokenEnv: "FOREVER_TOKEN" },
      ],
    },
    { FOREVER_TOKEN: "forever-token" },
  );
  sim.grantAccessToken({ token: "file-token-1" });
  sim.grantAccessToken({ token: "expiring-token", expiresAt: now + 10 * DAY });
  sim.grantAccessToken({ token: "forever-token" });
  const keeper = createTokenFiles(directory);
  const graph = createGraph({
    directory,
    baseUrl: server.url,
    graphVersion: "v23.0",
    timeoutMs: 5_000,
    connections: 4,
    tokenOf: (n) => keeper.token(n),
    appToken,
  });
  const changed: string[] = [];
  const logger = createLogger({
    service: "sender",
    level: "info",
    destination: {
      write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>),
    },
  });
  const watch = createTokenWatch({
    numbers: () => directory.numbers.map((n) => n.phoneNumberId),
    graph,
    keeper,
    clock: () => Date.now(),
    observer,
    logger,
    checkMs: 0,
    filePollMs: 0,
    warnDays: 14,
    tokenChanged: (n) => changed.push(n),
  });
  return { file, keeper, graph, watch, changed };
}

beforeAll(async () => {
  sim = createSimulator({
    businesses: [
      {
        wabaId: WABA,
        phoneNumbers: [
          { id: ROTATED, displayPhoneNumber: "15550009001" },
          { id: EXPIRING, displayPhoneNumber: "15550009002" },
          { id: FOREVER, displayPhoneNumber: "15550009003" },
        ],
      },
    ],
    accessTokens: [],
  });
  server = await serveSimulator(sim, { port: 0, host: "127.0.0.1" });
  dir = mkdtempSync(join(tmpdir(), "parley-tokens-"));
  metrics = createMetrics({ service: "sender", collectDefaults: false });
  observer = createSenderMetrics(metrics);
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("debug_token with the app token (GRAPH_APP_TOKEN_FILE)", () => {
  it("asks with the app token: a revoked number token is judged from Graph's answer", async () => {
    const { watch, graph } = setUp(Date.now(), `${DEFAULT_APP_ID}|${DEFAULT_APP_SECRET}`);
    sim.grantAccessToken({ token: "forever-token" });
    await watch.checkAll();
    expect(await series("graph_token_valid", FOREVER)).toBe("1");
    sim.revokeAccessToken("forever-token");
    // The number's token cannot ask about itself any more; the app token can, and Graph says why.
    const seen = await graph.inspectToken(FOREVER);
    expect(seen).toMatchObject({ isValid: false, errorCode: 190 });
    await watch.check(FOREVER);
    expect(await series("graph_token_valid", FOREVER)).toBe("0");
    await graph.close();
  });

  it("a wrong app token is refused like Meta refuses it, names its secret, and judges no number", async () => {
    const { watch, graph } = setUp(Date.now(), `${DEFAULT_APP_ID}|not-the-app-secret`);
    sim.grantAccessToken({ token: "forever-token" });
    await expect(graph.inspectToken(FOREVER)).rejects.toThrow(AppTokenRefusedError);
    await expect(graph.inspectToken(FOREVER)).rejects.toThrow(/GRAPH_APP_TOKEN_FILE/);
    const before = await series("graph_token_valid", EXPIRING);
    await watch.check(EXPIRING);
    // Not marked invalid on the app token's account: the series keeps its last reading.
    expect(await series("graph_token_valid", EXPIRING)).toBe(before);
    expect(lines.some((l) => String(l["err"]).includes("GRAPH_APP_TOKEN_FILE"))).toBe(true);
    await graph.close();
  });
});

describe("GRAPH_APP_TOKEN_FILE rotated on disk", () => {
  it("is used by debug_token from the next call without a restart; a bad file keeps the app token in use, reported once", async () => {
    const appFile = join(dir, "app.token");
    rotate(appFile, `${DEFAULT_APP_ID}|not-the-app-secret\n`);
    const directory = parseNumberDirectory(
      { numbers: [{ phoneNumberId: FOREVER, wabaId: WABA, accessToken: "forever-token" }] },
      {},
    );
    sim.grantAccessToken({ token: "forever-token" });
    // As main.ts wires it: the app token from the configuration, its file watched by the keeper.
    const keeper = createTokenFiles(directory, {
      token: appTokenParser(`${DEFAULT_APP_ID}|not-the-app-secret`),
      file: appFile,
      parse: appTokenParser,
    });
    const graph = createGraph({
      directory,
      baseUrl: server.url,
      graphVersion: "v23.0",
      timeoutMs: 5_000,
      connections: 2,
      tokenOf: (n) => keeper.token(n),
      appToken: () => keeper.appToken?.(),
    });
    const seen: Record<string, unknown>[] = [];
    const watch = createTokenWatch({
      numbers: () => [FOREVER],
      graph,
      keeper,
      clock: () => Date.now(),
      observer,
      logger: createLogger({
        service: "sender",
        level: "info",
        destination: {
          write: (l: string) => void seen.push(JSON.parse(l) as Record<string, unknown>),
        },
      }),
      checkMs: 0,
      filePollMs: 0,
      warnDays: 14,
      tokenChanged: () => undefined,
    });
    try {
      await expect(graph.inspectToken(FOREVER)).rejects.toThrow(AppTokenRefusedError);
      // A file that is not an app token: the one in use stays, the problem said once, no secret.
      rotate(appFile, "not an app token\n");
      await watch.pollFiles();
      await watch.pollFiles();
      const bad = seen.filter(
        (l) => l["configKey"] === "GRAPH_APP_TOKEN_FILE" && l["level"] === "error",
      );
      expect(bad).toHaveLength(1);
      expect(String(bad[0]?.["problem"])).toMatch(/app\.token: must be <app id>\|<app secret>/);
      expect(keeper.appToken?.()).toBe(`${DEFAULT_APP_ID}|not-the-app-secret`);
      // The right app token written: debug_token asks with it from the next call, every number
      // re-checked at once.
      rotate(appFile, `${DEFAULT_APP_ID}|${DEFAULT_APP_SECRET}\n`);
      await watch.pollFiles();
      expect(
        seen.some(
          (l) =>
            l["msg"] ===
            "app token file changed: debug_token uses the new app token from its next call",
        ),
      ).toBe(true);
      expect(await series("graph_token_valid", FOREVER)).toBe("1");
      expect(await graph.inspectToken(FOREVER)).toMatchObject({ isValid: true });
      expect(JSON.stringify(seen)).not.toContain(DEFAULT_APP_SECRET);
    } finally {
      await graph.close();
    }
  });
});

describe("Graph tokens watched by the sender", () => {
  it("exposes each token's expiry and validity from debug_token, and names the secret to rotate", async () => {
    const { watch, graph } = setUp(Date.now());
    await watch.checkAll();
    expect(await series("graph_token_valid", EXPIRING)).toBe("1");
    const left = Number(await series("graph_token_expiry_seconds", EXPIRING));
    expect(left).toBeGreaterThan(10 * 86_400 - 60);
    expect(left).toBeLessThanOrEqual(10 * 86_400);
    expect(await series("graph_token_expiry_seconds", FOREVER)).toBe("+Inf");
    expect(await series("graph_token_valid", FOREVER)).toBe("1");
    expect(await series("graph_token_expiry_seconds", ROTATED)).toBe("+Inf");
    const warning = lines.find((l) => l["alert"] === "GraphTokenExpiresSoon");
    // The number is masked in logs (its last digits stay); the key to fix is named.
    expect(warning?.["businessNumber"]).toMatch(/\*9002$/);
    expect(warning?.["configKey"]).toBe("numbers.1.accessToken");

    // Meta revokes the token (the simulator forgets it): the next check says so, naming the key.
    sim.revokeAccessToken("forever-token");
    await watch.check(FOREVER);
    expect(await series("graph_token_valid", FOREVER)).toBe("0");
    expect(await series("graph_token_expiry_seconds", FOREVER)).toBe("0");
    const invalid = lines.find((l) => l["alert"] === "GraphTokenInvalid");
    expect(invalid?.["businessNumber"]).toMatch(/\*9003$/);
    expect(invalid?.["configKey"]).toBe("numbers.2.accessTokenEnv (FOREVER_TOKEN)");
    await graph.close();
  });

  it("an expiry given by the simulator moves the series; past it the token is invalid", async () => {
    const { watch, graph } = setUp(Date.now());
    sim.grantAccessToken({ token: "expiring-token", expiresAt: Date.now() + 2 * DAY });
    await watch.check(EXPIRING);
    expect(Number(await series("graph_token_expiry_seconds", EXPIRING))).toBeLessThanOrEqual(
      2 * 86_400,
    );
    sim.grantAccessToken({ token: "expiring-token", expiresAt: Date.now() - 1_000 });
    await watch.check(EXPIRING);
    expect(await series("graph_token_valid", EXPIRING)).toBe("0");
    expect(await series("graph_token_expiry_seconds", EXPIRING)).toBe("0");
    await graph.close();
  });

  it("a token file replaced on disk is used from the next call, without a restart", async () => {
    const { file, watch, graph, changed } = setUp(Date.now());
    expect(await graph.probe(ROTATED)).toBe(true);
    // Meta takes the old token away; the operator writes the new one into the file.
    sim.revokeAccessToken("file-token-1");
    expect(await graph.probe(ROTATED)).toBe(false);
    await watch.check(ROTATED);
    expect(await series("graph_token_valid", ROTATED)).toBe("0");
    sim.grantAccessToken({ token: "file-token-2", expiresAt: Date.now() + 60 * DAY });
    rotate(file, "file-token-2\n");
    await watch.pollFiles();
    expect(changed).toEqual([ROTATED]);
    expect(await graph.probe(ROTATED)).toBe(true);
    expect(await series("graph_token_valid", ROTATED)).toBe("1");
    expect(Number(await series("graph_token_expiry_seconds", ROTATED))).toBeGreaterThan(
      59 * 86_400,
    );
    const reloaded = lines.find(
      (l) => l["msg"] === "access token file changed: the new token is in use from the next call",
    );
    expect(reloaded?.["businessNumber"]).toMatch(/\*9001$/);
    expect(reloaded).toMatchObject({ configKey: "numbers.0.accessTokenFile", file });
    // The token itself is never logged.
    expect(JSON.stringify(lines)).not.toContain("file-token-2");
    await graph.close();
  });

  it("property: each valid file content becomes the token once; hostile content keeps the token in use with a precise error", async () => {
    const { file, keeper, graph } = setUp(Date.now());
    const valid = fc
      .stringMatching(/^[\x21-\x7e]{8,64}$/)
      .map((t) => ({ kind: "valid" as const, content: `${t}\n`, token: t }));
    const hostile = fc.oneof(
      fc.constantFrom("", "   \n", "short", "\u0000\u0001\u0002binary\u00ff"),
      fc.string({ maxLength: 7 }),
      fc
        .tuple(fc.stringMatching(/^[a-z]{4,10}$/), fc.stringMatching(/^[a-z]{4,10}$/))
        .map(([a, b]) => `${a} ${b}`),
      fc.stringMatching(/^[a-z]{4,10}$/).map((a) => `${a}\u00e9\u00e9\u00e9\u00e9`),
    );
    const step = fc.oneof(
      valid,
      hostile.map((content) => ({ kind: "hostile" as const, content, token: undefined })),
      fc.constant({ kind: "missing" as const, content: "", token: undefined }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        for (const s of steps) {
          const before = keeper.token(ROTATED);
          if (s.kind === "missing") rmSync(file, { force: true });
          else rotate(file, s.content);
          const changes = await keeper.poll();
          expect(changes.length).toBeLessThanOrEqual(1);
          const c = changes[0];
          if (s.kind === "valid") {
            expect(keeper.token(ROTATED)).toBe(s.token);
            if (s.token === before) expect(changes).toEqual([]);
            else expect(c).toMatchObject({ number: ROTATED, ok: true });
            continue;
          }
          // Hostile or gone: the token in use stays; the problem is reported (once per problem).
          expect(keeper.token(ROTATED)).toBe(before);
          if (c !== undefined) {
            expect(c.ok).toBe(false);
            if (!c.ok)
              expect(c.problem).toMatch(
                s.kind === "missing"
                  ? /numbers\.0\.accessTokenFile: cannot read .* \(ENOENT\)/
                  : /numbers\.0\.accessTokenFile: .*(holds no token|holds characters)/,
              );
          }
        }
        // A repeated problem is not reported again.
        expect((await keeper.poll()).length).toBe(0);
      }),
      { numRuns: 60 },
    );
    await graph.close();
  });
});
