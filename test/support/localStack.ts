import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { inject } from "vitest";
import { freePort, waitUntilListening } from "../../dev/freePort";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";

export const APP_ROOT = resolve(__dirname, "..", "..");
export const TEST_SECRET = "e2e-secret-0f3b9c2d7a";

export interface LocalStack {
  /** e.g. http://127.0.0.1:PORT */
  readonly url: string;
  readonly webhookUrl: string;
  readonly tablesConnection: string;
  readonly serviceBusConnection: string;
  broker(): LocalServiceBus;
  /** Everything the host process printed so far. */
  output(): string;
  stopBroker(): Promise<void>;
  /** Restarts the broker on the same port: the topics come back empty, as after an outage. */
  startBroker(): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Settings for the host process, over the test defaults. */
  env?: Record<string, string>;
}

/**
 * The bridge as a user runs it: the compiled app (`npm run build` first) served by the local
 * functions host in its own process, the shared Azurite, and a local Service Bus of its own.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const tablesConnection = inject("tablesConnection");
  let broker = await startLocalServiceBus({ topology: defaultTopology() });
  const brokerPort = broker.port;
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    TABLES_CONNECTION: tablesConnection,
    SERVICEBUS_CONNECTION: broker.connectionString,
    WEBHOOK_SECRETS: TEST_SECRET,
    ...options.env,
  };
  const child = spawn(process.execPath, [resolve(APP_ROOT, "dist/dev/host/main.js"), APP_ROOT], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  try {
    await Promise.race([
      waitUntilListening("127.0.0.1", port, 20_000),
      exited.then((code) => {
        throw new Error(`the host exited (${code}) at start:\n${output.join("")}`);
      }),
    ]);
  } catch (error) {
    await broker.stop();
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    webhookUrl: `${url}/api/acr/webhook`,
    tablesConnection,
    serviceBusConnection: broker.connectionString,
    broker: () => broker,
    output: () => output.join(""),
    stopBroker: () => broker.stop(),
    startBroker: async () => {
      broker = await startLocalServiceBus({ topology: defaultTopology(), port: brokerPort });
    },
    stop: async () => {
      await stopProcess(child, exited);
      await broker.stop();
    },
  };
}

async function stopProcess(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Starts the host expecting it to fail; resolves with its exit code and output. */
export async function runHostExpectingFailure(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(APP_ROOT, "dist/dev/host/main.js"), APP_ROOT], {
    env: {
      ...process.env,
      PORT: String(port),
      TABLES_CONNECTION: inject("tablesConnection"),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise<number | null>((done) => child.once("exit", (c) => done(c)));
  clearTimeout(timer);
  return { code, output: output.join("") };
}
