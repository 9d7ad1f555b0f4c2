import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceBusClient } from "@azure/service-bus";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/freePort";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { APP_ROOT, TEST_SECRET } from "../support/localStack";

interface CommandRun {
  /** The exit code; a signal's name when the run was killed (it outlived its time). */
  code: number | string;
  stdout: string;
  stderr: string;
}

/** `npm run send|tail -- ...` as built, in `cwd`, with the environment's settings replaced. */
function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<CommandRun>((done) => {
    execFile(
      process.execPath,
      [join(APP_ROOT, "dist/dev/cli.js"), ...args],
      { cwd: options.cwd ?? APP_ROOT, env: options.env ?? process.env, timeout: 20_000 },
      (error, stdout, stderr) => {
        const failed = error as (Error & { code?: number; signal?: string }) | null;
        done({ code: failed ? (failed.code ?? failed.signal ?? "?") : 0, stdout, stderr });
      },
    );
  });
}

/** The environment without the settings these tests give through a file or by name. */
function environmentWithout(...settings: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const setting of settings) delete env[setting];
  return env;
}

describe("npm run send", () => {
  /** What the stand-in bridge was sent. */
  const received: { url?: string; headers: IncomingHttpHeaders }[] = [];
  let bridge: Server;
  let bridgePort: number;
  let folder: string;

  beforeAll(async () => {
    bridgePort = await freePort();
    bridge = createServer((request, response) => {
      received.push({ url: request.url, headers: request.headers });
      request.resume();
      response.writeHead(200, { "content-type": "application/json" }).end('{"recorded":true}');
    });
    await new Promise<void>((listening) => bridge.listen(bridgePort, "127.0.0.1", listening));
  });

  afterAll(async () => {
    await new Promise((closed) => bridge?.close(closed));
  });

  afterEach(() => {
    received.length = 0;
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** A folder with a local.settings.json of these values, as `npm start` reads it. */
  function localSettings(values: Record<string, string>): string {
    folder = mkdtempSync(join(tmpdir(), "acr-bridge-cli-"));
    writeFileSync(join(folder, "local.settings.json"), JSON.stringify({ Values: values }));
    return folder;
  }

  const SETTINGS = ["PORT", "WEBHOOK_SECRETS", "WEBHOOK_AUTH_HEADER"];

  it("posts to the PORT of local.settings.json, where npm start serves the bridge", async () => {
    const cwd = localSettings({ PORT: String(bridgePort), WEBHOOK_SECRETS: TEST_SECRET });
    const run = await cli(["send", "push", "--count", "2"], {
      cwd,
      env: environmentWithout(...SETTINGS),
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("200 in ");
    expect(received.map((request) => request.url)).toEqual([
      "/api/acr/webhook",
      "/api/acr/webhook",
    ]);
    expect(received[0].headers.authorization).toBe(`Bearer ${TEST_SECRET}`);
  });

  it("takes PORT from the environment over the file, as npm start does", async () => {
    const cwd = localSettings({ PORT: String(await freePort()), WEBHOOK_SECRETS: TEST_SECRET });
    const run = await cli(["send", "delete"], {
      cwd,
      env: { ...environmentWithout(...SETTINGS), PORT: String(bridgePort) },
    });
    expect(run.code).toBe(0);
    expect(received).toHaveLength(1);
  });

  it("says in one line that the bridge is not reachable, and fails", async () => {
    const closedPort = await freePort();
    const cwd = localSettings({ PORT: String(closedPort), WEBHOOK_SECRETS: TEST_SECRET });
    const run = await cli(["send", "push"], { cwd, env: environmentWithout(...SETTINGS) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `bridge not reachable at http://127.0.0.1:${closedPort}/api/acr/webhook (ECONNREFUSED)\n`,
    );
  });

  it("names PORT in one line, without a stack trace, when it is no port number", async () => {
    const cwd = localSettings({ WEBHOOK_SECRETS: TEST_SECRET });
    const run = await cli(["send", "push"], {
      cwd,
      env: { ...environmentWithout(...SETTINGS), PORT: "70710" },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("setting PORT: must be a port number from 1 to 65535, not '70710'\n");
    expect(received).toHaveLength(0);
  });

  it("never prints the query of --url (in Azure it may hold the function key)", async () => {
    const closedPort = await freePort();
    const run = await cli([
      "send",
      "ping",
      "--url",
      `http://127.0.0.1:${closedPort}/api/acr/webhook?code=function-key-0042`,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain("function-key-0042");
  });

  it.each(["abc", "0", "-1", "1.5", "1e3", ""])(
    "refuses --count=%j with a usage error, sending nothing",
    async (count) => {
      const cwd = localSettings({ PORT: String(bridgePort), WEBHOOK_SECRETS: TEST_SECRET });
      const run = await cli(["send", "push", `--count=${count}`], {
        cwd,
        env: environmentWithout(...SETTINGS),
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^--count must be a whole number from 1 to \d+\n\nUsage:/);
      expect(received).toHaveLength(0);
    },
  );
});

describe("npm run tail", () => {
  let bus: LocalServiceBus;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    bus = await startLocalServiceBus({ topology: defaultTopology() });
    env = { ...process.env, SERVICEBUS_CONNECTION: bus.connectionString };
  });

  afterAll(async () => {
    await bus?.stop();
  });

  it("of a topic that does not exist, says so and fails, instead of retrying forever", async () => {
    const run = await cli(["tail", "no-such-topic"], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no such topic or subscription: no-such-topic/all\n");
    expect(run.stderr).not.toContain("receive error");
  });

  it("of a subscription that does not exist, the same", async () => {
    const run = await cli(["tail", "acr-push", "--subscription", "nobody"], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no such topic or subscription: acr-push/nobody\n");
  });

  it("with --count 1, prints the message and ends quietly: no error from its own closing", async () => {
    const client = new ServiceBusClient(bus.connectionString);
    try {
      await client.createSender("acr-delete").sendMessages({ body: { id: "tail-count" } });
    } finally {
      await client.close();
    }
    const run = await cli(["tail", "acr-delete", "--count", "1"], { env });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ body: { id: "tail-count" } });
    expect(run.stderr).toBe("Waiting for messages on acr-delete/all (Ctrl-C to stop)...\n");
  });

  it.each(["abc", "0", "2.5"])("refuses --count=%j with a usage error", async (count) => {
    const run = await cli(["tail", "acr-push", `--count=${count}`], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^--count must be a whole number from 1 to \d+\n\nUsage:/);
    expect(bus.receiverCount("acr-push", "all")).toBe(0);
  });

  it("names SERVICEBUS_CONNECTION in one line when it is malformed", async () => {
    const run = await cli(["tail", "acr-push"], {
      env: { ...env, SERVICEBUS_CONNECTION: "Endpoint=sb://x/;SharedAccessKey=key-0042" },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^setting SERVICEBUS_CONNECTION: .*\n$/);
    expect(run.stderr).not.toContain("key-0042");
  });
});
