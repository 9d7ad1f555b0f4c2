import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { waitUntilListening } from "../../dev/freePort";

/** The repository root (this file runs from dist/bench/support). */
export const APP_ROOT = resolve(__dirname, "..", "..", "..");
const HOST_MAIN = resolve(APP_ROOT, "dist", "dev", "host", "main.js");
const KEPT_LINES = 200;

export interface HostProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** performance.now() just before the spawn. */
  readonly spawnedAt: number;
  /** The last lines the host printed, for error reports. */
  recentOutput(): string;
  /** Calls `listener` with every line the host prints from now on; returns the unsubscribe. */
  onLine(listener: (line: string) => void): () => void;
  /** SIGTERM (graceful: in-flight invocations finish), SIGKILL after 15 s. */
  stop(): Promise<number | null>;
}

/**
 * The local functions host (dev/host, compiled) serving `appRoot` in a child process of its own
 * process group, so a Ctrl-C in the terminal reaches the benchmark only. Returns at once.
 */
export function spawnHost(appRoot: string, env: NodeJS.ProcessEnv): HostProcess {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [HOST_MAIN, appRoot], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const recent: string[] = [];
  const listeners = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      recent.push(line);
      if (recent.length > KEPT_LINES) recent.shift();
      for (const listener of listeners) listener(line);
    });
  }
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return {
    child,
    exited,
    spawnedAt,
    recentOutput: () => recent.join("\n"),
    onLine: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** spawnHost, then waits until the host listens on `port` (its PORT setting). */
export async function startHost(
  appRoot: string,
  env: NodeJS.ProcessEnv,
  port: number,
): Promise<HostProcess> {
  const host = spawnHost(appRoot, env);
  try {
    await Promise.race([
      waitUntilListening("127.0.0.1", port, 30_000),
      host.exited.then((code) => {
        throw new Error(`the host exited (${code}) at start:\n${host.recentOutput()}`);
      }),
    ]);
  } catch (error) {
    host.child.kill("SIGKILL");
    throw error;
  }
  return host;
}
