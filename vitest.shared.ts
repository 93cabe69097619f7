import { defineConfig } from "vitest/config";

// Workspace packages export their TypeScript sources under the "@reins/source"
// condition, so tests run against src/ without a build; daemons spawned as child
// processes run from dist/.
const conditions = ["@reins/source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@reins/source"] } },
  test: {
    include: ["src/**/*.test.ts", "*.test.ts", "**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
