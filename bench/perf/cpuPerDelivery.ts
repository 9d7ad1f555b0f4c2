import { cpuSecondsOf } from "../support/processStats";
import type { RunningApp } from "./stack";

/**
 * CPU milliseconds per acknowledged delivery in each process a run keeps busy. All of them share
 * the machine's cores, so these say which process is the nearer limit and what a delivery costs
 * at a given load (a delivery that shares its transaction and its Service Bus batch costs less).
 */
export interface CpuPerDelivery {
  /** The functions host serving the app. */
  hostMs: number;
  /** The Azurite the host's tables are on. */
  azuriteMs: number;
  /** This process: the load generator and the local Service Bus (and the proxy, when counted). */
  benchMs: number;
}

/** Runs `load` and returns its result with the CPU each process spent per acknowledged delivery. */
export async function withCpuPerDelivery<Run extends { ok: number }>(
  app: RunningApp,
  load: () => Promise<Run>,
): Promise<{ run: Run; cpu?: CpuPerDelivery }> {
  const hostPid = app.host.child.pid;
  const hostBefore = cpuSecondsOf(hostPid);
  const azuriteBefore = cpuSecondsOf(app.tablesPid);
  const benchBefore = process.cpuUsage();
  const run = await load();
  const bench = process.cpuUsage(benchBefore);
  const hostAfter = cpuSecondsOf(hostPid);
  const azuriteAfter = cpuSecondsOf(app.tablesPid);
  if (
    run.ok === 0 ||
    hostBefore === undefined ||
    hostAfter === undefined ||
    azuriteBefore === undefined ||
    azuriteAfter === undefined
  ) {
    return { run };
  }
  const perDelivery = (seconds: number) => (seconds * 1000) / run.ok;
  return {
    run,
    cpu: {
      hostMs: perDelivery(hostAfter - hostBefore),
      azuriteMs: perDelivery(azuriteAfter - azuriteBefore),
      benchMs: perDelivery((bench.user + bench.system) / 1e6),
    },
  };
}
