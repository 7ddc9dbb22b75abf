import { ParleyError } from "@parley/errors";

/** Thrown once, before a service starts, with every configuration problem found (retry never). */
export class ConfigError extends ParleyError {
  override readonly name = "ConfigError";

  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${service}: invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        "\nFix the environment variables above (see the configuration table in README.md) and start again.",
      { retry: "never" },
    );
  }
}
