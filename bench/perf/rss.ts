import { cpuSecondsOf, memoryOf } from "../support/processStats";
import { percentile } from "../support/webhookLoad";
import { OPEN_LOOP_MAX_IN_FLIGHT } from "./latency";
import { openLoop, sequential } from "./load";
import type { BenchStack } from "./stack";

/** What one window of the run cost, to tell a host that grows from one that falls behind. */
export interface RssWindow {
  meanMiB: number;
  /** Deliveries answered in the window. */
  deliveries: number;
  /** p99 acknowledgement of the deliveries answered in the window. */
  p99Ms: number;
  /** CPU per delivery answered in the window (ms). */
  hostCpuMs: number;
  azuriteCpuMs: number;
}

export interface RssFigures {
  rate: number;
  /**
   * Seconds at `rate` before the measured run: a fresh host's heap grows to its working size
   * meanwhile (from about 150 to about 235 MiB in 40 s here, its live heap flat throughout), which
   * is its warm-up, not a drift; the run is measured after it, as the throughput is.
   */
  warmupS: number;
  /** RSS of the fresh host after its first delivery, and at the end of the warm-up. */
  coldMiB: number;
  warmedMiB: number;
  durationS: number;
  /** Length of the first and of the last window compared: a minute, or a third of a short run. */
  windowS: number;
  firstWindowMiB: number;
  lastWindowMiB: number;
  first: RssWindow;
  last: RssWindow;
  peakMiB: number;
  deliveries: number;
  failures: Record<string, number>;
  /** Deliveries of the warm-up that failed, by status code or error name. */
  warmupFailures: Record<string, number>;
  p99Ms: number;
}

interface Sample {
  atS: number;
  rssMiB: number;
  hostCpuS: number;
  azuriteCpuS: number;
  /** Deliveries answered so far: the run's latencies, in the order they were answered. */
  answered: number;
}

/** A minute, or a fifth of a short run. */
const warmupSecondsFor = (durationS: number) => Math.min(60, durationS / 5);

/**
 * VmRSS of a fresh bridge host over empty tables (as the peak was measured), sampled every second
 * over an open-loop run at `rate` after a warm-up at that rate; with the CPU the host and Azurite
 * spent per delivery and the p99, in the first and the last window.
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
    const coldMiB = memoryOf(pid)?.rss ?? Number.NaN;
    const warmupS = warmupSecondsFor(durationS);
    const warmup = await openLoop(
      running.webhookUrl,
      rate,
      warmupS * 1000,
      OPEN_LOOP_MAX_IN_FLIGHT,
    );
    const warmedMiB = memoryOf(pid)?.rss ?? Number.NaN;
    const samples: Sample[] = [];
    const sample = (atS: number, answered: number) => {
      const memory = memoryOf(pid);
      const hostCpuS = cpuSecondsOf(pid);
      const azuriteCpuS = cpuSecondsOf(running.tablesPid);
      if (memory && hostCpuS !== undefined && azuriteCpuS !== undefined) {
        samples.push({ atS, rssMiB: memory.rss, hostCpuS, azuriteCpuS, answered });
      }
    };
    const latenciesMs: number[] = [];
    const run = await openLoop(
      running.webhookUrl,
      rate,
      durationS * 1000,
      OPEN_LOOP_MAX_IN_FLIGHT,
      (atS, sofar) => {
        latenciesMs.push(...sofar.latenciesMs.slice(latenciesMs.length));
        sample(atS, latenciesMs.length);
      },
    );
    const windowS = Math.min(60, durationS / 3);
    const window = (inWindow: Sample[]): RssWindow => {
      const [from, to] = [inWindow[0], inWindow[inWindow.length - 1]];
      const deliveries = to.answered - from.answered;
      const answered = latenciesMs.slice(from.answered, to.answered).sort((a, b) => a - b);
      return {
        meanMiB: inWindow.reduce((sum, s) => sum + s.rssMiB, 0) / inWindow.length,
        deliveries,
        p99Ms: percentile(answered, 99),
        hostCpuMs: ((to.hostCpuS - from.hostCpuS) * 1000) / deliveries,
        azuriteCpuMs: ((to.azuriteCpuS - from.azuriteCpuS) * 1000) / deliveries,
      };
    };
    const first = window(samples.filter((s) => s.atS <= windowS));
    const last = window(samples.filter((s) => s.atS >= durationS - windowS));
    return {
      rate,
      warmupS,
      coldMiB,
      warmedMiB,
      durationS,
      windowS,
      firstWindowMiB: first.meanMiB,
      lastWindowMiB: last.meanMiB,
      first,
      last,
      peakMiB: memoryOf(pid)?.peak ?? Number.NaN,
      deliveries: run.ok,
      failures: run.failures,
      warmupFailures: warmup.failures,
      p99Ms: percentile(run.latenciesMs, 99),
    };
  } finally {
    await running.stop();
  }
}
