import { spawn } from "node:child_process";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { freePort, isListening } from "../../dev/freePort";
import { DEFAULT_SAS_KEY, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { APP_ROOT, TEST_SECRET } from "../support/localStack";

/** Process groups started here, killed whole if a test leaves one behind. */
const groups: number[] = [];

/** Runs a command in the app's root as a process group of its own, keeping what it prints. */
function startGroup(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, {
    cwd: APP_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  if (child.pid !== undefined) groups.push(child.pid);
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return { child, output: () => output };
}

afterEach(() => {
  for (const group of groups.splice(0)) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // Already gone: what a passing test leaves.
    }
  }
});

describe("npm start", () => {
  // `--ignore-scripts` skips `prestart` (the build, which `npm test` has done) and runs the start
  // script as npm runs it: under `sh -c`, which dies of the SIGTERM npm passes on to it without
  // passing it on. (Ctrl-C in a terminal signals the whole process group, the bridge too.)
  it("stops the bridge and its local Service Bus, freeing their ports, when npm alone gets a SIGTERM", async () => {
    const [port, serviceBusPort] = [await freePort(), await freePort()];
    const npm = startGroup("npm", ["start", "--ignore-scripts", "--silent"], {
      PORT: String(port),
      TABLES_CONNECTION: inject("tablesConnection"),
      SERVICEBUS_CONNECTION: `Endpoint=sb://localhost:${serviceBusPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${DEFAULT_SAS_KEY};UseDevelopmentEmulator=true`,
      ARM_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      WEBHOOK_SECRETS: TEST_SECRET,
    });
    await vi.waitFor(() => expect(npm.output()).toContain("Press Ctrl-C to stop."), {
      timeout: 20_000,
    });
    const health = await fetch(`http://127.0.0.1:${port}/api/health`);
    expect(health.status).toBe(200);

    npm.child.kill("SIGTERM");

    await vi.waitFor(
      async () => {
        expect(await isListening("127.0.0.1", port)).toBe(false);
        expect(await isListening("127.0.0.1", serviceBusPort)).toBe(false);
      },
      { timeout: 15_000, interval: 250 },
    );
    expect(npm.output()).toContain("stopping (again to force)...");
    // A timer that fires meanwhile logs its run's report, whose `errors` must stay empty; its
    // name is no error.
    expect(npm.output()).not.toMatch(/"errors":\[[^\]]/);
    expect(npm.output().replaceAll('"errors":[]', "")).not.toMatch(/Error|unhandled/i);
  });
});

describe("npm run tail", () => {
  it("stops, and stops taking its subscription's messages, when the shell npm runs it in dies of a SIGTERM", async () => {
    const bus = await startLocalServiceBus({ topology: defaultTopology() });
    try {
      // What npm runs after the build (`npm test` has built it): the command under `sh -c`.
      const shell = startGroup(
        "sh",
        ["-c", `"${process.execPath}" dist/dev/cli.js tail acr-push`],
        {
          SERVICEBUS_CONNECTION: bus.connectionString,
        },
      );
      // The tail shares the shell's stdout: it closes when the tail has exited too.
      const tailExited = new Promise((done) => shell.child.stdout?.once("close", done));
      await vi.waitFor(() => expect(bus.receiverCount("acr-push", "all")).toBe(1), {
        timeout: 20_000,
      });
      expect(shell.output()).toContain("Waiting for messages on acr-push/all");

      shell.child.kill("SIGTERM");

      await vi.waitFor(() => expect(bus.receiverCount("acr-push", "all")).toBe(0), {
        timeout: 10_000,
      });
      await tailExited;
    } finally {
      await bus.stop();
    }
  });
});
