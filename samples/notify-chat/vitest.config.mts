import { defineConfig } from "vitest/config";

// The sample's own tests, apart from the repository's configuration above it.
export default defineConfig({ test: { include: ["test/**/*.test.ts"] } });
