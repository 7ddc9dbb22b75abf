// Container health probe for a Parley service image (Docker HEALTHCHECK and compose).
// node is the only tool the image is sure to have, so no curl or wget: GET /readyz on
// this container's own port with the ops bearer token, exit 0 only on a 2xx answer.
import { readFileSync } from "node:fs";

function opsToken() {
  const file = process.env.OPS_TOKEN_FILE;
  // Same rule as @parley/config: the file's content, less one trailing newline.
  if (file) return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  return process.env.OPS_TOKEN ?? "";
}

const port = process.env.HTTP_PORT || "8080";

try {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, {
    headers: { authorization: `Bearer ${opsToken()}` },
    signal: AbortSignal.timeout(4000),
  });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
