// @parley/telemetry for the preloads, found by its published name from its own package (a
// package may import itself by name), as the repository root depends on no workspace package.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(new URL("../../packages/telemetry/package.json", import.meta.url));
const telemetry = await import(pathToFileURL(require.resolve("@parley/telemetry")).href);

export const { startTelemetry } = telemetry;
