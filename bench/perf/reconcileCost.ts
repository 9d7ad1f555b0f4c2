import { startAzurite } from "../../dev/azurite";
import { median, sleep } from "../support/webhookLoad";
import { burst, sequential } from "./load";
import { seedClosedHistory } from "./seedHistory";
import type { BenchStack, RunningApp } from "./stack";

export interface ReconcileScenario {
  history: number;
  /** How long writing the history took, in seconds. */
  seedS: number;
  /** The host's own Duration of each measured reconcile run. */
  runsMs: number[];
  medianMs: number;
}

export interface ReconcileFigures {
  openWindows: number;
  withoutHistory: ReconcileScenario;
  withHistory: ReconcileScenario;
}

const WINDOW_SECONDS = 1;
const DELIVERY_CONCURRENCY = 10;
const RUN_TIMEOUT_MS = 120_000;

/**
 * The cost of one reconcile run that closes `openWindows` due windows, without history and with
 * `history` closed items, each scenario on an Azurite of its own so that nothing else is in it.
 */
export async function measureReconcileCost(
  stack: BenchStack,
  openWindows: number,
  history: number,
  runs: number,
  log: (line: string) => void,
): Promise<ReconcileFigures> {
  const withoutHistory = await scenario(stack, openWindows, 0, runs, log);
  const withHistory = await scenario(stack, openWindows, history, runs, log);
  return { openWindows, withoutHistory, withHistory };
}

async function scenario(
  stack: BenchStack,
  openWindows: number,
  history: number,
  runs: number,
  log: (line: string) => void,
): Promise<ReconcileScenario> {
  const azurite = await startAzurite();
  try {
    const seedStarted = performance.now();
    if (history > 0) {
      log(`  seeding ${history} closed items into a fresh Azurite...`);
      await seedClosedHistory(azurite.connectionString, history);
    }
    const seedS = (performance.now() - seedStarted) / 1000;
    if (history > 0) log(`  seeded in ${seedS.toFixed(0)} s`);
    const running = await stack.startApp("bridge", {
      tables: azurite,
      env: { CROSSCHECK_WINDOW_SECONDS: String(WINDOW_SECONDS) },
    });
    try {
      // A first run closes the warm-up delivery's window: module loading and connections done.
      await sequential(running.webhookUrl, 1);
      await sleep(WINDOW_SECONDS * 1000 + 200);
      await runReconcile(running);
      const runsMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const opened = await burst(running.webhookUrl, openWindows, DELIVERY_CONCURRENCY, ["push"]);
        if (opened.ok !== openWindows) {
          throw new Error(`only ${opened.ok} of ${openWindows} deliveries answered 2xx`);
        }
        await sleep(WINDOW_SECONDS * 1000 + 200);
        const { durationMs, closed } = await runReconcile(running);
        if (closed < openWindows) {
          throw new Error(`the reconcile closed ${closed} windows, not ${openWindows}`);
        }
        runsMs.push(durationMs);
        log(
          `  history ${history}: reconcile run ${i + 1} closed ${closed} windows in ${durationMs} ms`,
        );
      }
      return { history, seedS, runsMs, medianMs: median(runsMs) };
    } finally {
      await running.stop();
    }
  } finally {
    await azurite.stop();
  }
}

const EXECUTED =
  /Executed 'Functions\.reconcile' \((Succeeded|Failed), Id=[^,]+, Duration=(\d+)ms\)/;
const REPORT = /reconcile: (\{.*\})\s*$/;

/**
 * Runs the reconcile function once through the host's admin endpoint (which answers 202 at once)
 * and waits for the host's "Executed" line, whose Duration is the run's cost.
 */
async function runReconcile(app: RunningApp): Promise<{ durationMs: number; closed: number }> {
  let closed = 0;
  let unsubscribe = () => {};
  const finished = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no reconcile finished within ${RUN_TIMEOUT_MS} ms`)),
      RUN_TIMEOUT_MS,
    );
    unsubscribe = app.host.onLine((line) => {
      const report = REPORT.exec(line);
      if (report) {
        const parsed = JSON.parse(report[1]) as { closed?: Record<string, number> };
        closed = Object.values(parsed.closed ?? {}).reduce((sum, n) => sum + n, 0);
      }
      const executed = EXECUTED.exec(line);
      if (!executed) return;
      clearTimeout(timer);
      if (executed[1] === "Failed")
        reject(new Error(`the reconcile failed:\n${app.host.recentOutput()}`));
      else resolve(Number(executed[2]));
    });
  });
  try {
    const answer = await fetch(`${app.baseUrl}/admin/functions/reconcile`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: "" }),
    });
    if (answer.status !== 202) throw new Error(`the admin endpoint answered ${answer.status}`);
    return { durationMs: await finished, closed };
  } finally {
    unsubscribe();
  }
}
