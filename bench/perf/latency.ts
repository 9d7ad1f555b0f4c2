import { percentile } from "../support/webhookLoad";
import { type CpuPerDelivery, withCpuPerDelivery } from "./cpuPerDelivery";
import { openLoop, sequential } from "./load";
import type { AppName, BenchStack } from "./stack";

export interface LatencyFigures {
  rate: number;
  deliveries: number;
  failures: Record<string, number>;
  late: number;
  p50Ms: number;
  p99Ms: number;
  /** Service Bus send operations per acknowledged delivery: fewer when messages meet in a batch. */
  sendsPerDelivery: number;
  cpuPerDelivery?: CpuPerDelivery;
}

/** Most deliveries in flight under the open loop: far above what half the peak rate needs. */
export const OPEN_LOOP_MAX_IN_FLIGHT = 256;

/**
 * Acknowledgement latency of an app at a fixed rate (an open loop, latency from each
 * delivery's scheduled time), on a fresh host over empty tables (as the peak was measured),
 * warmed up with a couple of seconds at that rate.
 */
export async function measureLatencyAtRate(
  stack: BenchStack,
  app: AppName,
  rate: number,
  durationMs: number,
): Promise<LatencyFigures> {
  const running = await stack.startAppOnEmptyTables(app);
  try {
    await sequential(running.webhookUrl, 1);
    await openLoop(running.webhookUrl, rate, 2_000, OPEN_LOOP_MAX_IN_FLIGHT);
    const sendsBefore = stack.broker.sendOperations();
    const { run, cpu } = await withCpuPerDelivery(running, () =>
      openLoop(running.webhookUrl, rate, durationMs, OPEN_LOOP_MAX_IN_FLIGHT),
    );
    const sends = stack.broker.sendOperations() - sendsBefore;
    return {
      rate,
      deliveries: run.ok,
      failures: run.failures,
      late: run.late,
      p50Ms: percentile(run.latenciesMs, 50),
      p99Ms: percentile(run.latenciesMs, 99),
      sendsPerDelivery: sends / run.ok,
      cpuPerDelivery: cpu,
    };
  } finally {
    await running.stop();
  }
}
