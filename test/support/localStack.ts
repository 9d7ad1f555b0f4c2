import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { inject } from "vitest";
import { startAzurite } from "../../dev/azurite";
import { freePort, waitUntilListening } from "../../dev/freePort";
import { type LocalServiceBus, startLocalServiceBus } from "../../dev/servicebus/broker";
import { defaultTopology } from "../../dev/servicebus/topology";
import { type StallingProxy, startStallingProxy } from "./stallingProxy";

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
  /** With `ownTables`: stops and restarts this stack's Azurite on its port, keeping its data. */
  stopTables(): Promise<void>;
  startTables(): Promise<void>;
  /** With `ownTables`: this stack's Azurite restarted with nothing in it, as an in-memory one comes back. */
  restartTablesEmpty(): Promise<void>;
  /** Stops the host with SIGTERM (graceful) or SIGKILL, and starts it again with the same settings. */
  stopHost(signal?: NodeJS.Signals): Promise<void>;
  startHost(): Promise<void>;
  /**
   * With `stallable`: the host's connections to Table Storage or Service Bus stop getting answers
   * (a hung dependency, not a refused one) until `resume`.
   */
  stall(dependency: StallableDependency): void;
  resume(dependency: StallableDependency): void;
  /** The running host's process, for tests that signal it or read its exit code. */
  hostProcess(): ChildProcess;
  stop(): Promise<void>;
}

export type StallableDependency = "tables" | "serviceBus";

/** What the HTTP helpers need of a running bridge: a stack, or one instance of a scaled-out one. */
export type BridgeEndpoint = Pick<LocalStack, "url" | "webhookUrl" | "output">;

export interface LocalStackOptions {
  /** Settings for the host process, over the test defaults. */
  env?: Record<string, string>;
  /**
   * An Azurite of this stack's own, persisted on disk so it can be stopped and started again
   * (Table Storage down) and counted without other test files' data. Default: the shared one.
   */
  ownTables?: boolean;
  /**
   * Turns Service Bus duplicate detection off on every topic, so a test can see a message
   * published twice that Azure (and the default topology) would silently drop.
   */
  withoutDuplicateDetection?: boolean;
  /** The host reaches Table Storage and Service Bus through proxies that `stall` can hang. */
  stallable?: boolean;
  /** The host's port, when a setting must name the bridge's URL before it starts. */
  port?: number;
  /** The app the host serves: this checkout's build unless said (e.g. an unpacked deployment package). */
  appRoot?: string;
}

/**
 * The bridge as a user runs it: the compiled app (`npm run build` first) served by the local
 * functions host in its own process, the shared Azurite, and a local Service Bus of its own.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = options.ownTables
    ? mkdtempSync(join(tmpdir(), "acr-bridge-azurite-"))
    : undefined;
  let azurite = dataDir ? await startAzurite({ location: dataDir }) : undefined;
  const tablesPort = azurite?.port;
  const tablesConnection = azurite?.connectionString ?? inject("tablesConnection");
  const topology = defaultTopology();
  if (options.withoutDuplicateDetection) {
    for (const topic of topology.topics) topic.duplicateDetectionWindowMs = undefined;
  }
  let broker = await startLocalServiceBus({ topology });
  const brokerPort = broker.port;
  const proxies = options.stallable
    ? {
        tables: await startStallingProxy(tablesPortOf(tablesConnection)),
        serviceBus: await startStallingProxy(brokerPort),
      }
    : undefined;
  const port = options.port ?? (await freePort());
  const appRoot = options.appRoot ?? APP_ROOT;
  const env = {
    ...process.env,
    PORT: String(port),
    TABLES_CONNECTION: proxies
      ? tablesConnection.replace(TABLES_PORT, `$1${proxies.tables.port}`)
      : tablesConnection,
    SERVICEBUS_CONNECTION: proxies
      ? broker.connectionString.replace(`:${brokerPort};`, `:${proxies.serviceBus.port};`)
      : broker.connectionString,
    WEBHOOK_SECRETS: TEST_SECRET,
    ...options.env,
  };
  const proxy = (dependency: StallableDependency): StallingProxy => {
    if (!proxies) throw new Error("stall and resume need stallable");
    return proxies[dependency];
  };
  const output: string[] = [];
  let host: HostProcess | undefined;
  try {
    host = await startHostProcess(env, port, output, appRoot);
  } catch (error) {
    await proxies?.tables.stop();
    await proxies?.serviceBus.stop();
    await broker.stop();
    await azurite?.stop();
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
      broker = await startLocalServiceBus({ topology, port: brokerPort });
    },
    stopTables: async () => {
      if (!dataDir) throw new Error("stopTables needs ownTables");
      await azurite?.stop();
    },
    startTables: async () => {
      if (!dataDir) throw new Error("startTables needs ownTables");
      azurite = await startAzurite({ location: dataDir, port: tablesPort });
    },
    restartTablesEmpty: async () => {
      if (!dataDir) throw new Error("restartTablesEmpty needs ownTables");
      await azurite?.stop();
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir);
      azurite = await startAzurite({ location: dataDir, port: tablesPort });
    },
    stopHost: async (signal: NodeJS.Signals = "SIGTERM") => {
      await host?.stop(signal);
    },
    startHost: async () => {
      host = await startHostProcess(env, port, output, appRoot);
    },
    stall: (dependency) => proxy(dependency).stall(),
    resume: (dependency) => proxy(dependency).resume(),
    hostProcess: () => {
      if (!host) throw new Error("the host is not running");
      return host.child;
    },
    stop: async () => {
      await host?.stop("SIGTERM");
      await proxies?.tables.stop();
      await proxies?.serviceBus.stop();
      await broker.stop();
      await azurite?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The port of a local Azurite's connection string, after the host it names. */
const TABLES_PORT = /(TableEndpoint=http:\/\/[^:/]+:)(\d+)/;

function tablesPortOf(connectionString: string): number {
  const port = TABLES_PORT.exec(connectionString)?.[2];
  if (!port) throw new Error("the Table Storage connection names no port");
  return Number(port);
}

export interface HostProcess {
  child: ChildProcess;
  stop(signal: NodeJS.Signals): Promise<void>;
}

/** Serves `appRoot` with the local host in a process of its own; resolves once its port answers. */
export async function startHostProcess(
  env: NodeJS.ProcessEnv,
  port: number,
  output: string[],
  appRoot: string,
): Promise<HostProcess> {
  const child = spawn(process.execPath, [resolve(APP_ROOT, "dist/dev/host/main.js"), appRoot], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
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
    child.kill("SIGKILL");
    throw error;
  }
  return { child, stop: (signal) => stopProcess(child, exited, signal) };
}

async function stopProcess(
  child: ChildProcess,
  exited: Promise<unknown>,
  signal: NodeJS.Signals,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
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
