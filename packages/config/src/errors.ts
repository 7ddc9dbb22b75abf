/** Thrown once, before a service starts, with every configuration problem found. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly retriable = false;

  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${service}: invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        "\nFix the environment variables above (see the configuration table in README.md) and start again.",
    );
  }
}
