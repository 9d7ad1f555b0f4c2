import { memoryOf } from "../support/processStats";
import { percentile } from "../support/webhookLoad";
import { OPEN_LOOP_MAX_IN_FLIGHT } from "./latency";
import { openLoop, sequential } from "./load";
import type { BenchStack } from "./stack";

export interface RssFigures {
  rate: number;
  durationS: number;
  /** Length of the first and of the last window compared: a minute, or a third of a short run. */
  windowS: number;
  firstWindowMiB: number;
  lastWindowMiB: number;
  peakMiB: number;
  deliveries: number;
  failures: Record<string, number>;
  p99Ms: number;
}

/**
 * VmRSS of a fresh bridge host over empty tables (as the peak was measured), sampled every second
 * over an open-loop run at `rate`.
 */
export async function measureRss(
  stack: BenchStack,
  rate: number,
  durationS: number,
): Promise<RssFigures> {
  const running = await stack.startAppOnEmptyTables("bridge");
  try {
    const pid = running.host.child.pid;
    await sequential(running.webhookUrl, 1);
    const samples: { atS: number; rss: number }[] = [];
    const run = await openLoop(
      running.webhookUrl,
      rate,
      durationS * 1000,
      OPEN_LOOP_MAX_IN_FLIGHT,
      (atS) => {
        const memory = memoryOf(pid);
        if (memory) samples.push({ atS, rss: memory.rss });
      },
    );
    const windowS = Math.min(60, durationS / 3);
    const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
    return {
      rate,
      durationS,
      windowS,
      firstWindowMiB: mean(samples.filter((s) => s.atS <= windowS).map((s) => s.rss)),
      lastWindowMiB: mean(samples.filter((s) => s.atS >= durationS - windowS).map((s) => s.rss)),
      peakMiB: memoryOf(pid)?.peak ?? Number.NaN,
      deliveries: run.ok,
      failures: run.failures,
      p99Ms: percentile(run.latenciesMs, 99),
    };
  } finally {
    await running.stop();
  }
}
