import { execFileSync } from "node:child_process";
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { waitFor } from "@parley/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { startApiListener, type ApiListener } from "./api-listener.js";

const dir = mkdtempSync(join(tmpdir(), "parley-tls-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A self-signed certificate for 127.0.0.1 with `cn`, written to cert.pem/key.pem by rename. */
function issue(cn: string): void {
  const cert = join(dir, `${cn}.cert.pem`);
  const key = join(dir, `${cn}.key.pem`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  renameSync(key, join(dir, "key.pem"));
  renameSync(cert, join(dir, "cert.pem"));
}

/** One HTTPS GET by node's TLS client: the protocol it negotiated, the peer's CN, the headers. */
function get(
  port: number,
  options: { maxVersion?: "TLSv1.2" | "TLSv1.3"; minVersion?: "TLSv1" } = {},
) {
  return new Promise<{ protocol: string | null; cn: unknown; hsts: unknown; status: number }>(
    (resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/", rejectUnauthorized: false, agent: false, ...options },
        (res) => {
          const socket = res.socket;
          if (!(socket instanceof TLSSocket)) throw new TypeError("not a TLS socket");
          res.resume();
          resolve({
            protocol: socket.getProtocol(),
            cn: socket.getPeerCertificate().subject.CN,
            hsts: res.headers["strict-transport-security"],
            status: res.statusCode ?? 0,
          });
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

describe("startApiListener with native TLS", () => {
  let listener: ApiListener;
  const reloads: unknown[] = [];

  it("negotiates TLS 1.3, answers with HSTS, and serves a replaced certificate without a restart", async () => {
    issue("first");
    listener = await startApiListener({
      host: "127.0.0.1",
      port: 0,
      checkName: "tls-test",
      description: "the test listener",
      tls: {
        certPath: join(dir, "cert.pem"),
        keyPath: join(dir, "key.pem"),
        reloadIntervalMs: 50,
        onReload: (error) => reloads.push(error ?? "ok"),
      },
      hstsMaxAgeSeconds: 31_536_000,
      app: () => (_req, res) => res.end("ok"),
    });
    const first = await get(listener.port);
    expect(first).toMatchObject({ protocol: "TLSv1.3", cn: "first", status: 200 });
    expect(first.hsts).toBe("max-age=31536000; includeSubDomains");

    issue("second");
    await waitFor(async () => (await get(listener.port)).cn === "second", {
      timeoutMs: 10_000,
      description: "the replaced certificate served",
    });
    expect(reloads).toContain("ok");
    await listener.stop();
  });

  it("still speaks TLS 1.2 to an older client, and refuses anything older", async () => {
    issue("third");
    listener = await startApiListener({
      host: "127.0.0.1",
      port: 0,
      checkName: "tls-test",
      description: "the test listener",
      tls: { certPath: join(dir, "cert.pem"), keyPath: join(dir, "key.pem") },
      app: () => (_req, res) => res.end("ok"),
    });
    expect((await get(listener.port, { maxVersion: "TLSv1.2" })).protocol).toBe("TLSv1.2");
    await expect(
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: listener.port,
            rejectUnauthorized: false,
            agent: false,
            maxVersion: "TLSv1.1",
            minVersion: "TLSv1",
          },
          resolve,
        );
        req.on("error", reject);
        req.end();
      }),
    ).rejects.toThrow();
    await listener.stop();
  });
});
