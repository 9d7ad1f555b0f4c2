import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { inject } from "vitest";
import { freePort } from "../../dev/freePort";
import { DEFAULT_SAS_KEY } from "../../dev/servicebus/broker";
import { APP_ROOT, TEST_SECRET } from "./localStack";

export interface NpmStart {
  /** The bridge's base URL, on the `PORT` it was given. */
  url: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Sends the signal (SIGTERM unless told) and resolves to its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Whether any process of its process group (itself and whatever it started) is still running. */
  anyProcessLeft(): boolean;
}

/**
 * What `npm start` runs (`dist/dev/start.js`), on free ports of its own for the bridge, its
 * Service Bus and its ARM stand-in, and on the tests' shared Azurite; `env` goes over that.
 */
export async function startNpmStart(env: Record<string, string>): Promise<NpmStart> {
  const [port, serviceBusPort, armPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [resolve(APP_ROOT, "dist/dev/start.js")], {
    env: {
      ...process.env,
      PORT: String(port),
      TABLES_CONNECTION: inject("tablesConnection"),
      SERVICEBUS_CONNECTION: `Endpoint=sb://localhost:${serviceBusPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${DEFAULT_SAS_KEY};UseDevelopmentEmulator=true`,
      ARM_ENDPOINT: `http://127.0.0.1:${armPort}`,
      WEBHOOK_SECRETS: TEST_SECRET,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // A process group of its own, so what it leaves behind can be found.
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<number | null>((done) => child.once("exit", done));
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    stop: (signal = "SIGTERM") => {
      child.kill(signal);
      return exited;
    },
    anyProcessLeft: () => {
      try {
        process.kill(-(child.pid ?? 0), 0);
        return true;
      } catch {
        return false;
      }
    },
  };
}
