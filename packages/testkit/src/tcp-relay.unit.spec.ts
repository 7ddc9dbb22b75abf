import { connect, createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTcpRelay } from "./tcp-relay.js";

// The relay in front of an echo server: what each mode does to a client's request.

let echo: Server;
let echoPort = 0;

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => {
    echo.listen(0, "127.0.0.1", resolve);
  });
  const address = echo.address();
  echoPort = typeof address === "object" && address !== null ? address.port : 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    echo.close(() => {
      resolve();
    });
  });
});

type Answer = { kind: "echo"; text: string } | { kind: "closed" } | { kind: "refused" };

/** Sends `text` through a fresh connection; what came back within `waitMs`, or how it ended. */
function ask(port: number, text: string, waitMs = 300): Promise<Answer | "silent"> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      s.destroy();
      resolve("silent");
    }, waitMs);
    s.on("connect", () => s.write(text));
    s.on("data", (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        s.destroy();
        resolve({ kind: "echo", text: got });
      }
    });
    s.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === "ECONNREFUSED" ? { kind: "refused" } : { kind: "closed" });
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ kind: "closed" });
    });
  });
}

describe("startTcpRelay", () => {
  it("passes, cuts, freezes and refuses, on one port throughout", async () => {
    const relay = await startTcpRelay({ host: "127.0.0.1", port: echoPort });
    try {
      expect(await ask(relay.port, "hello")).toEqual({ kind: "echo", text: "hello" });
      relay.mode("cut");
      expect(await ask(relay.port, "cut me")).toEqual({ kind: "closed" });
      relay.mode("freeze");
      expect(await ask(relay.port, "frozen")).toBe("silent");
      relay.mode("pass");
      await relay.down();
      expect(await ask(relay.port, "anyone?")).toEqual({ kind: "refused" });
      await relay.up();
      expect(await ask(relay.port, "back")).toEqual({ kind: "echo", text: "back" });
    } finally {
      await relay.close();
    }
  });

  it("holds a frozen connection's bytes and delivers them once it thaws", async () => {
    const relay = await startTcpRelay({ host: "127.0.0.1", port: echoPort });
    try {
      relay.mode("freeze");
      const answer = ask(relay.port, "later", 2_000);
      await new Promise((r) => setTimeout(r, 200));
      relay.mode("pass");
      expect(await answer).toEqual({ kind: "echo", text: "later" });
    } finally {
      await relay.close();
    }
  });

  it("can start refusing and listen later", async () => {
    const relay = await startTcpRelay({ host: "127.0.0.1", port: echoPort }, { listening: false });
    try {
      expect(await ask(relay.port, "early")).toEqual({ kind: "refused" });
      await relay.up();
      expect(await ask(relay.port, "now")).toEqual({ kind: "echo", text: "now" });
    } finally {
      await relay.close();
    }
  });
});
