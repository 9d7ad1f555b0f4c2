import { percentile } from "../support/webhookLoad";
import { type CpuPerDelivery, withCpuPerDelivery } from "./cpuPerDelivery";
import { closedLoop, type Delivered, type LoadRun, sequential } from "./load";
import type { AppName, BenchStack } from "./stack";

export interface ThroughputFigures {
  deliveriesPerS: number;
  deliveries: number;
  failures: Record<string, number>;
  p50Ms: number;
  /** The p99 at peak: every sender busy. */
  p99Ms: number;
  /** p50 and p99 at peak of each action, to tell which one makes the tail. */
  byAction: Record<string, { p50Ms: number; p99Ms: number }>;
  /** Service Bus send operations (the broker's count) per acknowledged delivery. */
  sendsPerDelivery: number;
  cpuPerDelivery?: CpuPerDelivery;
}

/**
 * Peak throughput of one app at `concurrency` webhooks in flight (a closed loop), on a fresh host
 * warmed up first. Returns the run too, so that its deliveries can be checked.
 */
export async function measureThroughput(
  stack: BenchStack,
  app: AppName,
  concurrency: number,
  durationMs: number,
  warmUpMs: number,
): Promise<{ figures: ThroughputFigures; run: LoadRun }> {
  const running = await stack.startApp(app);
  try {
    await sequential(running.webhookUrl, 1);
    await closedLoop(running.webhookUrl, concurrency, warmUpMs);
    const sendsBefore = stack.broker.sendOperations();
    const { run, cpu } = await withCpuPerDelivery(running, () =>
      closedLoop(running.webhookUrl, concurrency, durationMs),
    );
    const sends = stack.broker.sendOperations() - sendsBefore;
    return {
      run,
      figures: {
        deliveriesPerS: run.ok / run.elapsedS,
        deliveries: run.ok,
        failures: run.failures,
        p50Ms: percentile(run.latenciesMs, 50),
        p99Ms: percentile(run.latenciesMs, 99),
        byAction: latencyByAction(run.delivered),
        sendsPerDelivery: sends / run.ok,
        cpuPerDelivery: cpu,
      },
    };
  } finally {
    await running.stop();
  }
}

function latencyByAction(
  delivered: readonly Delivered[],
): Record<string, { p50Ms: number; p99Ms: number }> {
  const byAction = new Map<string, number[]>();
  for (const { action, latencyMs } of delivered) {
    const latencies = byAction.get(action) ?? [];
    latencies.push(latencyMs);
    byAction.set(action, latencies);
  }
  return Object.fromEntries(
    [...byAction].map(([action, latencies]) => {
      latencies.sort((a, b) => a - b);
      return [action, { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }];
    }),
  );
}
