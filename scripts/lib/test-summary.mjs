// Sums the per-package vitest JSON reports that scripts/test.sh collects into one line:
//   tests: <passed> passed, <failed> failed
// A test file that could not even load counts as one failure, and so does a package with a
// test script but no report (its vitest crashed or never ran), so a broken run cannot look green.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const [reportDir, repoRoot = "."] = process.argv.slice(2);
if (!reportDir) {
  console.error("usage: test-summary.mjs <report-dir> [repo-root]");
  process.exit(2);
}

function packagesWithTests() {
  const dirs = [];
  for (const parent of ["packages", "apps"]) {
    for (const name of readdirSync(path.join(repoRoot, parent))) dirs.push(path.join(parent, name));
  }
  dirs.push("test", "bench");
  return dirs.filter((dir) => {
    try {
      const pkg = JSON.parse(readFileSync(path.join(repoRoot, dir, "package.json"), "utf8"));
      return typeof pkg.scripts?.test === "string";
    } catch {
      return false;
    }
  });
}

let passed = 0;
let failed = 0;
for (const dir of packagesWithTests()) {
  const file = path.join(reportDir, `${dir.replaceAll(path.sep, "-")}.json`);
  let report;
  try {
    report = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    console.log(`no test report from ${dir} (its tests crashed or did not run): counted as 1 failure`);
    failed += 1;
    continue;
  }
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  for (const result of report.testResults) {
    const file = path.relative(path.resolve(repoRoot), result.name);
    const failedAssertions = result.assertionResults.filter((a) => a.status === "failed");
    // Name every failed test with the first line of its failure, so a red run says what broke
    // even when only the end of the log is kept.
    for (const assertion of failedAssertions) {
      const reason = (assertion.failureMessages?.[0] ?? "").split("\n")[0];
      console.log(`FAILED ${file} > ${assertion.fullName}: ${reason}`);
    }
    if (result.status === "failed" && failedAssertions.length === 0) {
      console.log(`${file} failed to run: ${result.message.split("\n")[0]}`);
      failed += 1;
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
