import { type ChildProcess, spawn } from "node:child_process";
import { freePort, waitUntilListening } from "./freePort";

export interface LocalAzurite {
  port: number;
  /** The Azurite process, for measuring what it costs (undefined if the spawn gave none). */
  pid: number | undefined;
  /** Azurite's well-known development account, on this instance's port. */
  connectionString: string;
  stop(): Promise<void>;
}

/** Azurite's published development account; not a secret. */
const DEV_ACCOUNT = "devstoreaccount1";
const DEV_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/**
 * Azurite's Table service as a child process: in memory, telemetry off, loopback only.
 * Port 0 picks a free port (Azurite's CLI cannot report one it chose itself).
 */
export async function startAzurite(
  options: {
    host?: string;
    port?: number;
    /** Keep the data in this folder (across restarts) instead of in memory. */
    location?: string;
    log?: (line: string) => void;
  } = {},
): Promise<LocalAzurite> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port || (await freePort(host));
  const child = spawn(
    process.execPath,
    [
      require.resolve("azurite/dist/src/table/main.js"),
      "--tableHost",
      host,
      "--tablePort",
      String(port),
      ...(options.location ? ["--location", options.location] : ["--inMemoryPersistence"]),
      "--disableTelemetry",
      "--silent",
      "--skipApiVersionCheck",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output.push(text);
    options.log?.(text.trimEnd());
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await Promise.race([
      waitUntilListening(host, port, 15_000),
      exited.then(() => {
        throw new Error(`Azurite exited at start: ${output.join("").trim()}`);
      }),
    ]);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    port,
    pid: child.pid,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
      `TableEndpoint=http://${host}:${port}/${DEV_ACCOUNT};`,
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Azurite saves a data folder only when it closes on SIGINT; SIGTERM ends it unsaved.
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}
