// Every runbook_url of a rules file names a file in docs/runbooks/ that exists and, when it has
// a #fragment, a heading of that file with GitHub's anchor for it. Exits 1 listing the broken ones.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const rulesFile = process.argv[2] ?? join(repo, "infra/prometheus/rules/parley.rules.yml");

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

const rules = readFileSync(rulesFile, "utf8");
const alerts = [...rules.matchAll(/- alert: (\S+)/g)].map((m) => m[1]);
const links = [...rules.matchAll(/runbook_url: (\S+)/g)].map((m) => m[1]);
const problems = [];
if (links.length !== alerts.length)
  problems.push(
    `${alerts.length} alerts but ${links.length} runbook_url annotations: every alert needs one`,
  );
for (const link of links) {
  const [path, fragment] = link.split("#");
  if (!path.startsWith("docs/runbooks/")) {
    problems.push(`${link}: runbook links point into docs/runbooks/`);
    continue;
  }
  const file = join(repo, path);
  if (!existsSync(file)) {
    problems.push(`${link}: ${path} does not exist`);
    continue;
  }
  if (fragment === undefined) continue;
  const anchors = [...readFileSync(file, "utf8").matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]));
  if (!anchors.includes(fragment)) problems.push(`${link}: no heading with anchor #${fragment}`);
}
if (problems.length > 0) {
  console.error(`runbook links of ${rulesFile}:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`runbook links: ${links.length} alerts, each with an existing runbook section`);
