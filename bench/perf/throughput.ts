import { percentile } from "../support/webhookLoad";
import { closedLoop, type LoadRun, sequential } from "./load";
import type { AppName, BenchStack } from "./stack";

export interface ThroughputFigures {
  deliveriesPerS: number;
  deliveries: number;
  failures: Record<string, number>;
  p50Ms: number;
  /** The p99 at peak: every sender busy. */
  p99Ms: number;
  /** Service Bus send operations (the broker's count) per acknowledged delivery. */
  sendsPerDelivery: number;
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
    const run = await closedLoop(running.webhookUrl, concurrency, durationMs);
    const sends = stack.broker.sendOperations() - sendsBefore;
    return {
      run,
      figures: {
        deliveriesPerS: run.ok / run.elapsedS,
        deliveries: run.ok,
        failures: run.failures,
        p50Ms: percentile(run.latenciesMs, 50),
        p99Ms: percentile(run.latenciesMs, 99),
        sendsPerDelivery: sends / run.ok,
      },
    };
  } finally {
    await running.stop();
  }
}
