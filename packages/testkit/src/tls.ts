import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { connect as connectTcp, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";

/** PEM material for TLS tests: a CA, a server certificate it signed (127.0.0.1, localhost), a CA that signed nothing. */
export interface TestPki {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A CA that did not sign the server's certificate: trusting only it must fail. */
  readonly otherCa: string;
}

/**
 * Generates a throwaway PKI with openssl (P-256 keys, ~100 ms), as the native scripts do for the
 * secure broker; nothing is kept on disk.
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "parley-pki-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  try {
    for (const [name, cn] of [
      ["ca", "Parley test CA"],
      ["other-ca", "Parley untrusted CA"],
    ] as const)
      run(
        "req",
        "-x509",
        ...ec,
        "-days",
        "2",
        "-subj",
        `/CN=${cn}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
      );
    run("req", ...ec, "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr");
    writeFileSync(join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    run(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem",
    );
    const read = (file: string) => readFileSync(join(dir, file), "utf8");
    return {
      ca: read("ca.pem"),
      serverCert: read("server.pem"),
      serverKey: read("server.key"),
      otherCa: read("other-ca.pem"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TlsFront {
  readonly port: number;
  close(): Promise<void>;
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve((server.address() as AddressInfo).port);
    });
  });

const closing = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });

/**
 * TLS in front of a real server's plaintext port (as a load balancer or a TLS-terminating proxy
 * does in production), for testing clients' TLS settings against servers that speak none locally.
 */
export async function startTlsTunnel(
  pki: TestPki,
  target: { host: string; port: number },
): Promise<TlsFront> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ cert: pki.serverCert, key: pki.serverKey }, (client) => {
    const upstream = connectTcp(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  server.on("tlsClientError", () => undefined);
  const port = await listen(server);
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return closing(server);
    },
  };
}

/**
 * HTTPS with basic auth in front of a real HTTP server (a registry behind an authenticating
 * reverse proxy, as Confluent Cloud and Aiven serve theirs): 401 without the credentials.
 */
export async function startHttpsBasicAuthProxy(
  pki: TestPki,
  upstream: string,
  credentials: { username: string; password: string },
): Promise<TlsFront> {
  const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
  const base = new URL(upstream);
  const server = createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }, (req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="registry"' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const name of ["content-type", "accept"]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      fetch(new URL(req.url ?? "/", base), {
        method: req.method ?? "GET",
        headers,
        ...(body ? { body } : {}),
      })
        .then(async (answer) => {
          const contentType = answer.headers.get("content-type");
          res.writeHead(answer.status, contentType === null ? {} : { "content-type": contentType });
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch(() => {
          res.writeHead(502).end();
        });
    });
  });
  server.on("tlsClientError", () => undefined);
  const port = await listen(server);
  return { port, close: () => closing(server) };
}
