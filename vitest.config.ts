import { defineConfig } from "vitest/config";

// One vitest project per package (each with its own vitest.config.ts), so `pnpm exec vitest`
// at the root and editor integrations see every suite. CI runs them per package through turbo
// (`turbo run test`), after the builds the daemon tests need.
export default defineConfig({
  test: { projects: ["packages/*", "apps/*", "test"] },
});
