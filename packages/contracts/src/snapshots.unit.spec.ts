import { describe, expect, it } from "vitest";
import { createCatalog } from "./catalog.js";
import { snapshotDir } from "./scripts/paths.js";
import { describeIncompatibility, SNAPSHOT_COMMAND, subjectStates } from "./scripts/snapshots.js";

// The gate of `make test`: published schemas only evolve backward-transitively, and every change
// to a schema is published as a new snapshot version in the same commit.
describe("schema snapshots", () => {
  const states = subjectStates(createCatalog(), snapshotDir);

  it.each(states.map((s) => [s.topic.subject, s] as const))(
    "%s is backward compatible with every published version",
    (_subject, state) => {
      expect(state.incompatible, describeIncompatibility(state)).toEqual([]);
    },
  );

  it.each(states.map((s) => [s.topic.subject, s] as const))(
    "%s has an up-to-date snapshot",
    (subject, state) => {
      expect(
        state.upToDate,
        state.history.length === 0
          ? `${subject} has no snapshot yet: run \`${SNAPSHOT_COMMAND}\``
          : `${subject} differs from its last snapshot v${state.history.length}: run \`${SNAPSHOT_COMMAND}\` and commit the new version`,
      ).toBe(true);
    },
  );
});
