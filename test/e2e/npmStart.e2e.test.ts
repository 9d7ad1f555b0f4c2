import { spawn } from "node:child_process";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { freePort, isListening } from "../../dev/freePort";
import { DEFAULT_SAS_KEY } from "../../dev/servicebus/broker";
import { APP_ROOT, TEST_SECRET } from "../support/localStack";

/** Process groups started here, killed whole if a test leaves one behind. */
const groups: number[] = [];

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
    const npm = spawn("npm", ["start", "--ignore-scripts", "--silent"], {
      cwd: APP_ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        TABLES_CONNECTION: inject("tablesConnection"),
        SERVICEBUS_CONNECTION: `Endpoint=sb://localhost:${serviceBusPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${DEFAULT_SAS_KEY};UseDevelopmentEmulator=true`,
        ARM_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
        WEBHOOK_SECRETS: TEST_SECRET,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    if (npm.pid !== undefined) groups.push(npm.pid);
    let output = "";
    npm.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    npm.stderr.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    await vi.waitFor(() => expect(output).toContain("Press Ctrl-C to stop."), {
      timeout: 20_000,
    });
    const health = await fetch(`http://127.0.0.1:${port}/api/health`);
    expect(health.status).toBe(200);

    npm.kill("SIGTERM");

    await vi.waitFor(
      async () => {
        expect(await isListening("127.0.0.1", port)).toBe(false);
        expect(await isListening("127.0.0.1", serviceBusPort)).toBe(false);
      },
      { timeout: 15_000, interval: 250 },
    );
    expect(output).toContain("stopping (again to force)...");
    expect(output).not.toMatch(/Error|unhandled/i);
  });
});
