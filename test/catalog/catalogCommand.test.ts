import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/** `npm run catalog` (the compiled dev/catalog.ts: `npm run build` first). */
const ROOT = resolve(__dirname, "../..");
const run = promisify(execFile);

function catalog(args: string[]) {
  return run(process.execPath, [resolve(ROOT, "dist/dev/catalog.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("npm run catalog", () => {
  it.each([
    { args: ["--out", "elsewhere"], says: "Unknown option '--out'" },
    { args: ["docs/other.yaml"], says: "Unexpected argument 'docs/other.yaml'" },
  ])("refuses $args with its usage, writing nothing", async ({ args, says }) => {
    const { code, stdout, stderr } = await catalog(args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain(says);
    expect(stderr).toContain("Usage:\n  npm run catalog");
  });
});
