#!/usr/bin/env node
import { runCli } from "./adapters/cli/run-cli.js";

// parley-campaigns: the campaigns API from a shell (src/cli/run-cli.ts, README "CLI").
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  fetch: globalThis.fetch,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}).catch((error: unknown) => {
  process.stderr.write(
    `parley-campaigns: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  return 1;
});
