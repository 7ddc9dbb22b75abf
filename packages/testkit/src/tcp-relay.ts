import { connect, createServer, type Socket } from "node:net";

/**
 * - `pass`: bytes go both ways.
 * - `cut`: the next bytes a client sends close its connection and the server's, unanswered (a
 *   server restarting under a request).
 * - `freeze`: nothing moves either way until the mode changes (a server that stopped reading).
 */
export type RelayMode = "pass" | "cut" | "freeze";

/** A TCP relay in front of a real server, for tests that break the network on purpose. */
export interface TcpRelay {
  /** The relay's port on 127.0.0.1; it stays the same across `down()` and `up()`. */
  readonly port: number;
  mode(mode: RelayMode): void;
  /** Stops listening and closes every connection: new connections are refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

export interface TcpRelayOptions {
  /** False: the relay keeps its port but refuses connections until `up()`. Default true. */
  listening?: boolean;
}

/** A TCP port on 127.0.0.1 that nothing listens on (at the time of asking). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

/** Starts a relay from a free port on 127.0.0.1 to `target`, in `pass` mode. */
export async function startTcpRelay(
  target: { host: string; port: number },
  options: TcpRelayOptions = {},
): Promise<TcpRelay> {
  let mode: RelayMode = "pass";
  let listening = false;
  const sockets = new Set<Socket>();
  const track = (s: Socket, peer: () => Socket) => {
    sockets.add(s);
    if (mode === "freeze") s.pause();
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {
      s.destroy();
      peer().destroy();
    });
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    track(client, () => upstream);
    track(upstream, () => client);
    client.on("data", (chunk: Buffer) => {
      if (mode === "cut") {
        client.destroy();
        upstream.destroy();
      } else if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => {
          if (mode !== "freeze") client.resume();
        });
      }
    });
    upstream.pipe(client);
  });
  const port = await freePort();
  const up = () =>
    new Promise<void>((resolve, reject) => {
      if (listening) {
        resolve();
        return;
      }
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        listening = true;
        resolve();
      });
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!listening) {
        resolve();
        return;
      }
      listening = false;
      server.close(() => {
        resolve();
      });
    });
  if (options.listening !== false) await up();
  return {
    port,
    mode: (next) => {
      mode = next;
      for (const s of sockets) {
        if (next === "freeze") s.pause();
        else s.resume();
      }
    },
    up,
    down,
    close: down,
  };
}
