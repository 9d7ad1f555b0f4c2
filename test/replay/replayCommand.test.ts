import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../dev/freePort";

/**
 * `npm run replay` (the compiled dev/replayCli.ts: `npm run build` first) against a stand-in of
 * the bridge's replay routes that answers each status check as the test says.
 */
const ROOT = resolve(__dirname, "../..");
const run = promisify(execFile);
const JOB_ID = "0b5c4a1e-2f6d-4c3b-9a8e-7d6c5b4a3f21";

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** Serves POST /api/replay (202) and GET /api/replay/<id> with `checks` in turn (the last kept). */
async function bridgeAnswering(checks: [number, Record<string, unknown>][]): Promise<string> {
  const answers = [...checks];
  const bridge = createServer((request, response) => {
    request.resume();
    const [status, body] =
      request.method === "POST"
        ? [202, { id: JOB_ID, state: "queued" }]
        : ((answers.length > 1 ? answers.shift() : answers[0]) ?? [500, {}]);
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  server = bridge;
  await new Promise<void>((done) => bridge.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(bridge.address() as AddressInfo).port}`;
}

const job = (state: string, progress: number) => ({
  id: JOB_ID,
  state,
  progress,
  counts: { scanned: 4, published: 3, skipped: 1 },
  errors: [],
});

function replay(url: string) {
  return run(
    process.execPath,
    [
      resolve(ROOT, "dist/dev/replayCli.js"),
      "--url",
      url,
      "--from",
      "2026-05-01T10:00:00Z",
      "--to",
      "2026-05-01T12:00:00Z",
    ],
    { cwd: ROOT, encoding: "utf8" },
  ).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe("npm run replay following its job", () => {
  it("waits out a status check that failed (503) and ends with the job", async () => {
    const url = await bridgeAnswering([
      [503, { error: { code: "dependency_unavailable", message: "table storage" } }],
      [200, job("completed", 1)],
    ]);
    const { code, stdout, stderr } = await replay(url);
    expect(stderr).toContain("status check failed (503: table storage): trying again");
    expect(stdout).toContain(`replay job ${JOB_ID} queued`);
    expect(stdout).toContain("completed: 100 %, 3 published, 1 skipped, 4 read");
    expect(code).toBe(0);
  });

  it("says in one line that the bridge is not reachable, with the key to retry with, and fails", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await replay(closed);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(
      new RegExp(
        `^bridge not reachable at ${closed}/api/replay \\(ECONNREFUSED\\); to retry without a second job: --idempotency-key [0-9a-f-]{36}\n$`,
      ),
    );
  });

  it("stops at once on a refusal (404), saying the job goes on and where to follow it", async () => {
    const url = await bridgeAnswering([[404, { error: { message: "no such replay job" } }]]);
    const { code, stderr } = await replay(url);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `404: no such replay job; job ${JOB_ID} goes on on the bridge: GET ${url}/api/replay/${JOB_ID}`,
    );
  });
});
