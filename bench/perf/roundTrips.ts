import { sleep } from "../support/webhookLoad";
import { type CountingTableProxy, countsBetween, type RoundTripCounts } from "./countingTableProxy";
import { BENCH_ACTIONS, closedLoop, sequential } from "./load";
import type { AppName, BenchStack } from "./stack";

export interface RoundTripFigures {
  /** One delivery at a time, after one warm-up delivery: mean per delivery, and the most. */
  lowLoad: {
    deliveries: number;
    tablePerDelivery: number;
    tableMost: number;
    sendsPerDelivery: number;
    byTable: Record<string, number>;
    /** Mean round trips of one delivery of each action. */
    byAction: Record<string, number>;
  };
  /** `concurrency` deliveries in flight: per acknowledged delivery, amortised. */
  concurrent: {
    deliveries: number;
    tablePerDelivery: number;
    sendsPerDelivery: number;
    byTable: Record<string, number>;
  };
}

/** No Table Storage request for this long: whatever a delivery does after its answer is done. */
const QUIET_MS = 150;
const QUIET_WAIT_MOST_MS = 3_000;

/**
 * Table Storage round trips (the counting proxy) and Service Bus send operations (the broker)
 * per delivery, alone and under load, on a fresh host whose Table client goes through the proxy,
 * after a warm-up delivery of each action.
 */
export async function measureRoundTrips(
  stack: BenchStack,
  app: AppName,
  lowLoadDeliveries: number,
  concurrency: number,
  durationMs: number,
): Promise<RoundTripFigures> {
  const { proxy, broker } = stack;
  const running = await stack.startApp(app, { counted: true });
  try {
    // One delivery of each action first: each Table adapter creates its tables on first use.
    await sequential(running.webhookUrl, BENCH_ACTIONS.length);
    await quiet(proxy);

    const lowStart = proxy.counts();
    const lowSends = broker.sendOperations();
    let most = 0;
    let ok = 0;
    const byAction = new Map<string, number[]>();
    for (let i = 0; i < lowLoadDeliveries; i++) {
      const before = proxy.counts().total;
      const { delivered } = await sequential(running.webhookUrl, 1);
      await quiet(proxy);
      const count = proxy.counts().total - before;
      most = Math.max(most, count);
      for (const { action } of delivered) {
        ok += 1;
        byAction.set(action, [...(byAction.get(action) ?? []), count]);
      }
    }
    const low = countsBetween(lowStart, proxy.counts());
    const lowLoad = {
      deliveries: ok,
      tablePerDelivery: low.total / ok,
      tableMost: most,
      sendsPerDelivery: (broker.sendOperations() - lowSends) / ok,
      byTable: perDelivery(low, ok),
      byAction: Object.fromEntries(
        [...byAction].map(([action, counts]) => [
          action,
          counts.reduce((sum, count) => sum + count, 0) / counts.length,
        ]),
      ),
    };

    const loadStart = proxy.counts();
    const loadSends = broker.sendOperations();
    const run = await closedLoop(running.webhookUrl, concurrency, durationMs);
    await quiet(proxy);
    const underLoad = countsBetween(loadStart, proxy.counts());
    return {
      lowLoad,
      concurrent: {
        deliveries: run.ok,
        tablePerDelivery: underLoad.total / run.ok,
        sendsPerDelivery: (broker.sendOperations() - loadSends) / run.ok,
        byTable: perDelivery(underLoad, run.ok),
      },
    };
  } finally {
    await running.stop();
  }
}

async function quiet(proxy: CountingTableProxy): Promise<void> {
  const deadline = performance.now() + QUIET_WAIT_MOST_MS;
  while (performance.now() < deadline) {
    if (proxy.inFlight() === 0 && performance.now() - proxy.lastActivityAt() >= QUIET_MS) return;
    await sleep(25);
  }
}

function perDelivery(counts: RoundTripCounts, deliveries: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts.byTable)
      .sort(([, a], [, b]) => b - a)
      .map(([table, count]) => [table, Math.round((count / deliveries) * 100) / 100]),
  );
}
