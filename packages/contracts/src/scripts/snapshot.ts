// Publishes a new snapshot version for every subject whose generated schema changed compatibly:
// `pnpm --filter @parley/contracts snapshot`. Incompatible changes are refused (exit 1).
import { createCatalog } from "../catalog.js";
import { snapshotDir } from "./paths.js";
import { publishSnapshots } from "./snapshots.js";

const { written, refused } = publishSnapshots(createCatalog(), snapshotDir);
for (const file of written) console.log(`wrote ${file}`);
if (written.length === 0 && refused.length === 0) console.log("every snapshot is up to date");
if (refused.length > 0) {
  console.error(
    `refused (BACKWARD_TRANSITIVE): make the change compatible, e.g. add optional fields instead of required ones, widen instead of narrowing\n${refused.join("\n")}`,
  );
  process.exitCode = 1;
}
