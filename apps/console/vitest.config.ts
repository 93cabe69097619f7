import react from "@vitejs/plugin-react";
import { mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

// Component tests (*.test.tsx) run in happy-dom, chosen per file; the browser
// test runs Chromium against the built console and real daemons.
export default mergeConfig(shared, {
  plugins: [react()],
  test: { include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
