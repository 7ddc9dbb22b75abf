// Type-aware lint for the whole workspace. Two architectural rules live here:
// no deep imports into another package, and no infrastructure inside domain folders.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const deepImports = {
  patterns: [
    {
      group: ["@parley/*/*"],
      message:
        "Import a workspace package through its entry point (its exports map), not a deep path.",
    },
    {
      group: [
        "**/packages/*/src/**",
        "**/services/*/src/**",
        "../../packages/**",
        "../../services/**",
      ],
      message: "Reach another package only through its published name, e.g. '@parley/config'.",
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/dist-bench/**",
      ".parley/**",
      "infra/native/*/target/**",
      "**/*.d.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ["vitest.config.ts"],
          defaultProject: "tsconfig.base.json",
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "no-restricted-imports": ["error", deepImports],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
    },
  },
  {
    // Domain folders (every folder of a service's src/ but adapters/) import no adapter and no
    // I/O library: ports are declared beside the domain and adapters implement them (issue 21,
    // CONTRIBUTING.md). main.ts, instrument.ts, config.ts and metrics.ts sit beside the folders.
    files: ["services/*/src/*/**/*.ts"],
    ignores: [
      "services/*/src/adapters/**",
      "**/*.spec.ts",
      "**/*-helpers.ts",
      "**/*.spec-helpers.ts",
      // The sender's application layer still composes its adapters; being moved to main.ts and
      // ports (issue 21), after which this line goes.
      "services/sender/src/sending/**",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            ...deepImports.patterns,
            {
              group: ["**/adapters/**", "../main.js", "../metrics.js", "../instrument.js"],
              message:
                "A domain folder imports no adapter and no wiring: declare a port here and let main.ts plug the adapter in.",
            },
            {
              group: [
                "kafkajs",
                "mongodb",
                "express",
                "undici",
                "node:http",
                "node:https",
                "node:net",
                "node:fs",
                "node:fs/promises",
                "node:child_process",
                "@parley/kafka",
                "@parley/mongo",
                "@parley/runtime",
                "@parley/telemetry",
              ],
              message: "Domain code does no I/O: pass it in from the adapters through a port.",
            },
          ],
        },
      ],
    },
  },
  {
    // Deciders stay pure: no transport, persistence or Node built-ins (conventions 2 and 14).
    files: [
      "services/*/src/domain/**/*.ts",
      "services/*/src/*/decide.ts",
      "services/*/src/*/evolve.ts",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            ...deepImports.patterns,
            {
              group: [
                "node:*",
                "kafkajs",
                "mongodb",
                "express",
                "@parley/kafka",
                "@parley/telemetry",
              ],
              message: "Domain code is pure: pass I/O in from the adapters.",
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "process", message: "Domain code reads no environment." },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Take `now` as an input." },
      ],
    },
  },
  {
    // The decider runtime does no I/O of its own: stores and publishers arrive as ports (ADR 0010).
    files: ["packages/decider/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            ...deepImports.patterns,
            {
              group: [
                "node:*",
                "kafkajs",
                "mongodb",
                "express",
                "@parley/kafka",
                "@parley/mongo",
                "@parley/runtime",
                "@parley/telemetry",
              ],
              message: "The decider runtime takes I/O as ports (StateStore, Publish); import none.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        fetch: "readonly",
        AbortSignal: "readonly",
      },
    },
  },
);
