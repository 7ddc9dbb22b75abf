// Reads every vitest JSON report in a folder.
//   node test-summary.mjs DIR        one line per suite and a closing "N passed, N failed, N skipped"
//   node test-summary.mjs DIR --why  what failed and why, briefly: each failed spec file (with how
//                                    long it ran, so a hook that hung shows) and each failed test,
//                                    with the first lines of its error. test.sh prints this last, so
//                                    the end of a CI log says why the run failed.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const [dir, mode] = process.argv.slice(2);
const root = process.cwd();
const MESSAGE_LINES = 4;
const MAX_ENTRIES = 12;

// eslint-disable-next-line no-control-regex -- the escape that starts a terminal colour
const plain = (text) => String(text ?? "").replace(/\x1b\[[0-9;]*m/g, "");
// The message and the first stack frame outside node_modules: where the spec failed.
const firstLines = (text, indent) => {
  let frames = 0;
  return plain(text)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .filter(
      (l) =>
        !l.startsWith("at ") ||
        (!l.includes("node_modules") && !l.includes("<anonymous>") && frames++ === 0),
    )
    .slice(0, MESSAGE_LINES)
    .map((l) => `${indent}${l.slice(0, 200)}`)
    .join("\n");
};

const failedTestsOf = (file) => (file.assertionResults ?? []).filter((t) => t.status === "failed");
// A spec file that failed with no failed test of its own: a hook or its import failed.
const failedOnItsOwn = (file) => file.status === "failed" && failedTestsOf(file).length === 0;

const reports = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((file) => ({
    suite: file.replace(".json", ""),
    report: JSON.parse(readFileSync(join(dir, file), "utf8")),
  }));

if (mode === "--why") {
  const entries = [];
  for (const { suite, report } of reports) {
    for (const file of report.testResults ?? []) {
      const path = relative(root, file.name);
      const tests = file.assertionResults ?? [];
      // A file whose own tests explain its failure needs no line of its own.
      if (failedOnItsOwn(file) || (file.status === "failed" && file.message)) {
        const seconds = Math.round(((file.endTime ?? 0) - (file.startTime ?? 0)) / 1000);
        const notPassed = tests.filter((t) => t.status !== "passed").length;
        const head = `  ${suite} ${path}: failed after ${seconds} s, ${notPassed} of its tests not passed`;
        entries.push(file.message ? `${head}\n${firstLines(file.message, "      ")}` : head);
      }
      for (const test of failedTestsOf(file)) {
        entries.push(
          `  ${suite} ${path} > ${test.fullName}\n${firstLines(test.failureMessages?.[0], "      ")}`,
        );
      }
    }
  }
  if (entries.length > 0) {
    console.log("why:");
    console.log(entries.slice(0, MAX_ENTRIES).join("\n"));
    if (entries.length > MAX_ENTRIES)
      console.log(`  ... and ${entries.length - MAX_ENTRIES} more in ${dir}`);
  }
} else {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const { suite, report } of reports) {
    passed += report.numPassedTests ?? 0;
    const failedFiles = (report.testResults ?? []).filter((f) => f.status === "failed");
    const failedTests = report.numFailedTests ?? 0;
    // A spec file that failed on its own counts as one failure.
    failed += failedTests + failedFiles.filter(failedOnItsOwn).length;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    const n = failedFiles.length;
    const files = n > 0 ? ` (${n} spec file${n > 1 ? "s" : ""} failed)` : "";
    console.log(
      `    ${suite.padEnd(5)} ${report.numPassedTests} passed, ${failedTests} failed, ${report.numPendingTests ?? 0} skipped${files}`,
    );
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
}
