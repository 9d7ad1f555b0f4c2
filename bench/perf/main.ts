import { existsSync } from "node:fs";
import { join } from "node:path";
import { onParentExit } from "../../dev/onParentExit";
import { APP_ROOT } from "../support/hostProcess";
import { measureAzuriteCeiling } from "./azuriteCeiling";
import { measureColdStarts } from "./coldStart";
import { evaluateTargets, type Figures } from "./figures";
import { measureLatencyAtRate } from "./latency";
import { type BenchOptions, parseBenchOptions, USAGE } from "./options";
import { measureReconcileCost } from "./reconcileCost";
import { describeMachine, formatReport, writeResults } from "./report";
import { measureRoundTrips } from "./roundTrips";
import { measureRss } from "./rss";
import { type BenchStack, startBenchStack } from "./stack";
import { measureThroughput } from "./throughput";
import { verifyDeliveries } from "./verifyDeliveries";

/**
 * `npm run bench`: the figures and targets of issue 8 for whatever the build in dist/ contains,
 * each measured in this run on one machine: Azurite's ceilings, the naive bridge (bench/naive)
 * and the bridge, served by the same local host against the same Azurite and broker. Never part
 * of `npm test`.
 */
const OPEN_WINDOWS = 100;
const CEILING_MOST_S = 10;
const WARM_UP_MS = 2_000;

async function main(): Promise<void> {
  let options: BenchOptions | "help";
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  for (const compiled of ["dist/src/index.js", "dist/bench/naive/naiveWebhook.js"]) {
    if (!existsSync(join(APP_ROOT, compiled))) {
      throw new Error(`${compiled} is missing: run \`npm run build\` first`);
    }
  }
  const startedAt = new Date();
  const machine = describeMachine();
  const log = (line: string) => console.log(line);
  log(
    `bench: ${[...options.phases].join(", ")}${options.short ? " (short)" : ""} on ${machine.cores} cores, load average ${machine.loadAverageAtStart}`,
  );

  const stack = await startBenchStack();
  process.on("exit", () => stack.killHosts());
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${reason}: stopping`);
    stack.killHosts();
    void stack.stop().finally(() => process.exit(130));
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, stop);
  onParentExit(() => stop("the process that started it exited"));

  const figures: Figures = {};
  try {
    await runPhases(stack, options, figures, log);
  } finally {
    await stack.stop();
  }
  const targets = evaluateTargets(figures);
  log(formatReport(figures, targets, machine));
  const path = writeResults(startedAt, options, machine, figures, targets);
  log(`\nresults written to ${path}`);
  if (figures.correctness && !figures.correctness.ok) process.exitCode = 1;
}

async function runPhases(
  stack: BenchStack,
  options: BenchOptions,
  figures: Figures,
  log: (line: string) => void,
): Promise<void> {
  const { phases, concurrency } = options;
  const durationMs = options.durationS * 1000;
  const warmUpMs = options.short ? 1_000 : WARM_UP_MS;
  const rate = (value: number) => `${value.toFixed(1)}/s`;

  if (phases.has("ceiling")) {
    log("ceiling: Azurite's own single-insert and transaction ceilings...");
    const seconds = Math.min(CEILING_MOST_S, options.durationS);
    figures.azurite = await measureAzuriteCeiling(stack.azurite.connectionString, seconds * 1000);
    log(
      `  ${rate(figures.azurite.singleInsertsPerS)} single inserts, ${rate(figures.azurite.batchEntitiesPerS)} entities in transactions`,
    );
  }

  // Before the load phases: a spawn then measures the host, not an Azurite still working off a
  // backlog the previous phase left.
  if (phases.has("coldstart")) {
    log(`coldstart: ${options.spawns} spawns per app...`);
    figures.coldStart = await measureColdStarts(stack, options.spawns);
    log(
      `  bridge ${figures.coldStart.bridgeMs.map((ms) => ms.toFixed(0)).join(", ")} ms; naive ${figures.coldStart.naiveMs.map((ms) => ms.toFixed(0)).join(", ")} ms`,
    );
  }

  if (phases.has("throughput")) {
    log(`throughput: ${concurrency} concurrent webhooks for ${options.durationS} s each...`);
    const naive = await measureThroughput(stack, "naive", concurrency, durationMs, warmUpMs);
    log(`  naive  ${rate(naive.figures.deliveriesPerS)}, p99 ${naive.figures.p99Ms.toFixed(0)} ms`);
    const bridge = await measureThroughput(stack, "bridge", concurrency, durationMs, warmUpMs);
    log(
      `  bridge ${rate(bridge.figures.deliveriesPerS)}, p99 ${bridge.figures.p99Ms.toFixed(0)} ms`,
    );
    figures.throughput = { concurrency, bridge: bridge.figures, naive: naive.figures };
    figures.correctness = await verifyDeliveries(
      stack.azurite.connectionString,
      stack.broker,
      bridge.run.delivered,
    );
    log(
      `  checked the bridge's ${figures.correctness.checked} deliveries: ${figures.correctness.ok ? "each recorded, each published once" : JSON.stringify(figures.correctness)}`,
    );
  }

  let peakRate = figures.throughput?.bridge.deliveriesPerS;
  if (peakRate === undefined && (phases.has("latency") || phases.has("rss"))) {
    log("peak: the bridge's peak rate, for half of it (the throughput phase did not run)...");
    const calibration = await measureThroughput(stack, "bridge", concurrency, 5_000, warmUpMs);
    peakRate = calibration.figures.deliveriesPerS;
    log(`  ${rate(peakRate)}`);
  }

  if (phases.has("roundtrips")) {
    log("roundtrips: Table round trips and Service Bus sends per delivery...");
    const lowLoad = options.short ? 5 : 20;
    const underLoadMs = Math.min(durationMs, 10_000);
    const bridge = await measureRoundTrips(stack, "bridge", lowLoad, concurrency, underLoadMs);
    const naive = await measureRoundTrips(stack, "naive", lowLoad, concurrency, underLoadMs);
    figures.roundTrips = { concurrency, bridge, naive };
    log(
      `  bridge ${bridge.lowLoad.tablePerDelivery.toFixed(2)} alone, ${bridge.concurrent.tablePerDelivery.toFixed(2)} at ${concurrency}; naive ${naive.lowLoad.tablePerDelivery.toFixed(2)}, ${naive.concurrent.tablePerDelivery.toFixed(2)}`,
    );
  }

  if (phases.has("latency") && peakRate !== undefined) {
    log(
      `latency: the bridge at half its peak, ${rate(peakRate / 2)}, for ${options.durationS} s...`,
    );
    const halfPeak = await measureLatencyAtRate(stack, "bridge", peakRate / 2, durationMs);
    log(`  bridge p50 ${halfPeak.p50Ms.toFixed(0)} ms, p99 ${halfPeak.p99Ms.toFixed(0)} ms`);
    const naiveAtHalfPeak = await measureLatencyAtRate(stack, "naive", peakRate / 2, durationMs);
    log(
      `  naive  p50 ${naiveAtHalfPeak.p50Ms.toFixed(0)} ms, p99 ${naiveAtHalfPeak.p99Ms.toFixed(0)} ms`,
    );
    figures.latency = { peakRate, halfPeak, naiveAtHalfPeak };
  }

  if (phases.has("reconcile")) {
    log(`reconcile: ${OPEN_WINDOWS} open windows, without history and with ${options.history}...`);
    figures.reconcile = await measureReconcileCost(
      stack,
      OPEN_WINDOWS,
      options.history,
      options.short ? 1 : 3,
      log,
    );
  }

  if (phases.has("rss") && peakRate !== undefined) {
    log(`rss: the bridge at ${rate(peakRate / 2)}, warmed up, for ${options.rssDurationS} s...`);
    figures.rss = await measureRss(stack, peakRate / 2, options.rssDurationS);
    log(
      `  ${figures.rss.firstWindowMiB.toFixed(0)} MiB in the first ${figures.rss.windowS.toFixed(0)} s, ${figures.rss.lastWindowMiB.toFixed(0)} MiB in the last`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
