// A lean HTTP/1.1 front for the simulator's Graph requests, sitting in front of a node:http server.
//
// node:http costs about 70 µs of CPU per request on a small VM (parser callbacks, IncomingMessage
// and ServerResponse streams, header objects), several times what the simulator's own work costs.
// The Graph API's traffic is plain: HTTP/1.1, keep-alive, a few headers, a Content-Length body. This
// front parses exactly that shape itself and answers from the simulator engine in one socket
// write. Anything else (chunked or large bodies, Expect, Upgrade, HTTP/1.0, repeated headers, odd
// methods, header folding, the /_sim control API) is handed to the node:http server on the same
// connection, at a request boundary, with the unread bytes put back, so node:http's behaviour and
// error answers apply to it unchanged from then on.
import { STATUS_CODES, type Server } from "node:http";
import type { Socket } from "node:net";

export interface FastRequest {
  readonly method: string;
  /** The request target as sent (path and query). */
  readonly target: string;
  /** Lower-case names, latin1 values (as node:http gives them). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type FastAnswer =
  | {
      readonly kind: "answer";
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Buffer | string;
      readonly delayMs: number;
    }
  | { readonly kind: "hang"; readonly hangMs: number };

export interface FastPathOptions {
  /** Whether this request line is for the fast path; otherwise node:http handles the connection. */
  readonly accepts: (method: string, target: string) => boolean;
  readonly handle: (req: FastRequest) => FastAnswer;
  /** How long to hold the next request before `handle` (0: at once). */
  readonly queueDelayMs?: () => number;
  /** Larger bodies (media uploads) go to node:http. */
  readonly maxBodyBytes: number;
  readonly maxHeaderBytes: number;
  readonly keepAliveTimeoutMs: number;
}

export interface FastPath {
  /** Destroys the connections the fast path still owns and its timers. */
  close(): void;
}

const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DIGITS = /^\d{1,9}$/;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/; // eslint-disable-line no-control-regex

const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`;
    statusLines.set(status, line);
  }
  return line;
}

let dateSecond = -1;
let dateHeader = "";
/** The Date header, formatted once per second. */
function date(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateHeader = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateHeader;
}

/** What one parse step returns when it answered nothing: wait for more bytes, or hand over. */
const WAIT = -1;
const HAND_OVER = -2;

export function attachFastPath(server: Server, o: FastPathOptions): FastPath {
  // node:http's own connection handling, kept for the connections handed over.
  const nodeListeners = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let closed = false;

  function handOver(socket: Socket, pending: Buffer | undefined): void {
    sockets.delete(socket);
    socket.removeAllListeners("data");
    socket.removeAllListeners("timeout");
    socket.removeAllListeners("error");
    socket.removeAllListeners("close");
    socket.setTimeout(0);
    socket.pause();
    if (pending !== undefined && pending.length > 0) socket.unshift(pending);
    for (const l of nodeListeners) l.call(server, socket);
    socket.resume();
  }

  function onConnection(socket: Socket): void {
    if (closed) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(o.keepAliveTimeoutMs);
    let pending: Buffer | undefined;
    /** An answer is delayed or hung: later requests wait so answers keep their order. */
    let busy = false;
    let ending = false;

    const write = (a: Extract<FastAnswer, { kind: "answer" }>, close: boolean): void => {
      if (socket.destroyed) return;
      let head = statusLine(a.status);
      const h = a.headers;
      for (const name in h) {
        if (name === "content-length" || name === "connection" || name === "date") continue;
        head += `${name}: ${h[name] as string}\r\n`;
      }
      const body = a.body;
      head += date();
      head += close ? "connection: close\r\n" : "connection: keep-alive\r\n";
      if (typeof body === "string") {
        head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
        socket.write(head + body);
      } else {
        head += `content-length: ${body.length}\r\n\r\n`;
        socket.cork();
        socket.write(head, "latin1");
        socket.write(body);
        socket.uncork();
      }
      if (close) {
        ending = true;
        socket.end();
      }
    };

    /** Parses and answers one request at the start of `buf`; returns the bytes it used. */
    const step = (buf: Buffer): number => {
      const headEnd = buf.indexOf(HEAD_END);
      if (headEnd === -1) return buf.length > o.maxHeaderBytes ? HAND_OVER : WAIT;
      if (headEnd > o.maxHeaderBytes) return HAND_OVER;
      const head = buf.toString("latin1", 0, headEnd);
      const lineEnd = head.indexOf("\r\n");
      const requestLine = lineEnd === -1 ? head : head.slice(0, lineEnd);
      const sp1 = requestLine.indexOf(" ");
      const sp2 = requestLine.indexOf(" ", sp1 + 1);
      if (sp1 <= 0 || sp2 === -1 || requestLine.slice(sp2 + 1) !== "HTTP/1.1") return HAND_OVER;
      const method = requestLine.slice(0, sp1);
      const target = requestLine.slice(sp1 + 1, sp2);
      if (method !== "POST" && method !== "GET" && method !== "DELETE") return HAND_OVER;
      if (target.charCodeAt(0) !== 0x2f || !o.accepts(method, target)) return HAND_OVER;
      const headers: Record<string, string> = {};
      let length = 0;
      let close = false;
      let at = lineEnd === -1 ? head.length : lineEnd + 2;
      while (at < head.length) {
        let next = head.indexOf("\r\n", at);
        if (next === -1) next = head.length;
        const c = head.charCodeAt(at);
        if (c === 0x20 || c === 0x09) return HAND_OVER; // obsolete line folding
        const colon = head.indexOf(":", at);
        if (colon === -1 || colon >= next) return HAND_OVER;
        const name = head.slice(at, colon).toLowerCase();
        const value = head.slice(colon + 1, next).trim();
        at = next + 2;
        if (!TOKEN.test(name) || CONTROL.test(value) || headers[name] !== undefined)
          return HAND_OVER;
        switch (name) {
          case "content-length":
            if (!DIGITS.test(value)) return HAND_OVER;
            length = Number(value);
            if (length > o.maxBodyBytes) return HAND_OVER;
            break;
          case "transfer-encoding":
          case "expect":
          case "upgrade":
            return HAND_OVER;
          case "connection": {
            const v = value.toLowerCase();
            if (v === "close") close = true;
            else if (v !== "keep-alive") return HAND_OVER;
            break;
          }
          default:
            break;
        }
        headers[name] = value;
      }
      const total = headEnd + 4 + length;
      if (buf.length < total) return WAIT;
      const body = buf.subarray(headEnd + 4, total);
      if (close) ending = true;
      const wait = o.queueDelayMs?.() ?? 0;
      if (wait > 0) {
        // Later requests on this connection wait behind this one, as they would at the front.
        busy = true;
        const held = Buffer.from(body);
        const t = setTimeout(() => {
          timers.delete(t);
          busy = false;
          if (socket.destroyed) return;
          answer(o.handle({ method, target, headers, body: held }), close);
          drain();
        }, wait);
        timers.add(t);
        return total;
      }
      answer(o.handle({ method, target, headers, body }), close);
      return total;
    };

    /** Writes, delays or hangs one request's answer; `busy` holds later requests meanwhile. */
    const answer = (a: FastAnswer, close: boolean): void => {
      if (a.kind === "hang") {
        busy = true;
        const t = setTimeout(() => {
          timers.delete(t);
          socket.destroy();
        }, a.hangMs);
        timers.add(t);
      } else if (a.delayMs > 0) {
        busy = true;
        const t = setTimeout(() => {
          timers.delete(t);
          busy = false;
          write(a, close);
          if (!close) drain();
        }, a.delayMs);
        timers.add(t);
      } else {
        write(a, close);
      }
    };

    const drain = (): void => {
      while (!busy && !ending && pending !== undefined) {
        const used = step(pending);
        if (used === WAIT) return;
        if (used === HAND_OVER) {
          const rest = pending;
          pending = undefined;
          handOver(socket, rest);
          return;
        }
        pending = used >= pending.length ? undefined : pending.subarray(used);
      }
    };

    socket.on("data", (chunk: Buffer) => {
      if (ending) return;
      pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      drain();
    });
    socket.on("timeout", () => {
      if (!busy) socket.destroy();
    });
    socket.on("error", () => {
      socket.destroy();
    });
    socket.on("close", () => {
      sockets.delete(socket);
    });
  }

  server.on("connection", onConnection);
  return {
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}
