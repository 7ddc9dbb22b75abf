// The layout rules lint cannot see (issue 21, CONTRIBUTING.md): no source file in a package's,
// a service's or e2e's src/ over 600 lines (specs included: a long file hides what it tests), and
// no benchmark code under src/ (benchmarks live in bench/ folders and never ship in a dist).
// Exits 1 listing every file that breaks a rule, with what to do.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const MAX_LINES = 600;

/** Every src/ directory of a workspace package or service, and e2e's. */
function sourceRoots() {
  const roots = [join(repo, "e2e", "src")];
  for (const group of ["packages", "services"]) {
    for (const name of readdirSync(join(repo, group))) roots.push(join(repo, group, name, "src"));
  }
  return roots.filter((root) => {
    try {
      return statSync(root).isDirectory();
    } catch {
      return false;
    }
  });
}

function* tsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

const problems = [];
for (const root of sourceRoots()) {
  for (const file of tsFiles(root)) {
    const name = relative(repo, file);
    const lines = readFileSync(file, "utf8").split("\n").length;
    if (lines > MAX_LINES) {
      problems.push(`${name}: ${lines} lines (at most ${MAX_LINES}); split it by concern`);
    }
    if (/(^|[./-])bench([./-]|$)/.test(relative(root, file))) {
      problems.push(`${name}: benchmark code under src/; move it to the package's bench/ folder`);
    }
  }
}

if (problems.length > 0) {
  process.stderr.write(`${problems.map((p) => `  - ${p}`).join("\n")}\n`);
  process.exit(1);
}
process.stdout.write(`    layout: no file over ${MAX_LINES} lines and no bench code under src/\n`);
