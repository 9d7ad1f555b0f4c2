import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

// The console is served by the function app: GET /api/console (the page), /api/console/assets/*.
export default defineConfig({
  root: here,
  base: "/api/console/",
  build: {
    outDir: resolve(here, "..", "dist", "console"),
    emptyOutDir: true,
    // No inline scripts (the page's CSP allows only the app's own files).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  logLevel: "warn",
});
