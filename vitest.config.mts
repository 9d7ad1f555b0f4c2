import { defineConfig } from "vitest/config";

// The Bicep CLI and the package build are CPU-hungry child processes: they run after the other
// tests, so they never starve the end-to-end tests' timing-sensitive hosts on a small machine.
const TOOLING = ["test/infra/**/*.test.ts", "test/package/**/*.test.ts"];
// Chromium is too: the console's test runs last, alone.
const BROWSER = ["test/browser/**/*.test.ts"];

export default defineConfig({
  test: {
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two test files at once, whatever the cores (vitest's default is one fewer than the cores:
    // one file at a time on 2): the end-to-end files mostly wait on their hosts, the broker and
    // the cross-check's windows, not on the CPU.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "app",
          include: ["test/**/*.test.ts", "samples/*/test/**/*.test.ts"],
          exclude: [...TOOLING, ...BROWSER],
        },
      },
      {
        extends: true,
        test: { name: "tooling", include: TOOLING, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: "browser", include: BROWSER, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
