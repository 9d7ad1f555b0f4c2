import { percentile } from "../support/webhookLoad";
import { openLoop, sequential } from "./load";
import type { BenchStack } from "./stack";

export interface LatencyFigures {
  rate: number;
  deliveries: number;
  failures: Record<string, number>;
  late: number;
  p50Ms: number;
  p99Ms: number;
}

/** Most deliveries in flight under the open loop: far above what half the peak rate needs. */
export const OPEN_LOOP_MAX_IN_FLIGHT = 256;

/**
 * Acknowledgement latency of the bridge at a fixed rate (an open loop, latency from each
 * delivery's scheduled time), on a fresh host over empty tables (as the peak was measured),
 * warmed up with a couple of seconds at that rate.
 */
export async function measureLatencyAtRate(
  stack: BenchStack,
  rate: number,
  durationMs: number,
): Promise<LatencyFigures> {
  const running = await stack.startAppOnEmptyTables("bridge");
  try {
    await sequential(running.webhookUrl, 1);
    await openLoop(running.webhookUrl, rate, 2_000, OPEN_LOOP_MAX_IN_FLIGHT);
    const run = await openLoop(running.webhookUrl, rate, durationMs, OPEN_LOOP_MAX_IN_FLIGHT);
    return {
      rate,
      deliveries: run.ok,
      failures: run.failures,
      late: run.late,
      p50Ms: percentile(run.latenciesMs, 50),
      p99Ms: percentile(run.latenciesMs, 99),
    };
  } finally {
    await running.stop();
  }
}
