import path from "node:path";
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = path.dirname(fileURLToPath(import.meta.url));

// The browser app: index.html and src/web, bundled with everything it imports
// (React, Connect-Web, the generated descriptors of @reins/proto) into dist/web,
// which the console's own server (src/server) serves. Nothing is fetched from a
// CDN at run time.
export default defineConfig({
  root,
  plugins: [react()],
  build: {
    outDir: path.join(root, "dist/web"),
    emptyOutDir: true,
    // No inline scripts or data: URLs: the server's Content-Security-Policy allows only 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
