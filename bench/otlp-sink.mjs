// An OTLP/HTTP sink for bench/telemetry-cost.sh: answers every export 200 and counts what it
// got, so "telemetry on" pays for encoding and sending spans without a collector's own CPU in
// the way. Usage: node bench/otlp-sink.mjs <port>; prints the totals on SIGTERM.
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 4318);
let requests = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on("data", (chunk) => {
    bytes += chunk.length;
  });
  req.on("end", () => {
    requests++;
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
server.listen(port, "127.0.0.1", () => {
  console.error(`[otlp-sink] listening on 127.0.0.1:${port}`);
});
process.on("SIGTERM", () => {
  console.error(`[otlp-sink] ${requests} exports, ${(bytes / 1e6).toFixed(1)} MB`);
  server.close();
  process.exit(0);
});
