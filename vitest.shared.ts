import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Workspace packages export their TypeScript sources under the "@reins/source"
// condition, so tests run against src/ without a build; daemons spawned as child
// processes run from dist/.
const conditions = ["@reins/source", "module", "node", "development|production"];
const ssrConditions = conditions.filter((c) => c !== "module");

// scripts/test.sh sets REINS_TEST_REPORT_DIR to collect one JSON report per package
// and print a single pass/fail count for the whole repository.
const reportDir = process.env.REINS_TEST_REPORT_DIR;
const repoRoot = path.dirname(fileURLToPath(import.meta.url));
const reportName = path.relative(repoRoot, process.cwd()).replaceAll(path.sep, "-") || "root";

export default defineConfig({
  resolve: { conditions },
  // Without "module": OpenTelemetry's packages offer their ESM builds under it, whose
  // extensionless imports Node cannot load; tests resolve them as Node does.
  ssr: { resolve: { conditions: ssrConditions, externalConditions: ["@reins/source"] } },
  test: {
    include: ["src/**/*.test.ts", "*.test.ts", "**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    ...(reportDir
      ? { reporters: ["default", "json"], outputFile: { json: path.join(reportDir, `${reportName}.json`) } }
      : {}),
  },
});
