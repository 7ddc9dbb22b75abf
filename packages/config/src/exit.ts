import type { z } from "zod";
import { ConfigError } from "./errors.js";
import { loadConfig, type LoadConfigOptions } from "./load.js";

/**
 * For a service's entry point: loads the configuration, or prints every problem and exits with
 * 78 (EX_CONFIG) instead of a stack trace, since the fix is in the environment, not the code.
 */
export function loadConfigOrExit<S extends z.ZodObject>(
  schema: S,
  options: LoadConfigOptions,
): Readonly<z.infer<S>> {
  try {
    return loadConfig(schema, options);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
