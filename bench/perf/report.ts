import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { APP_ROOT } from "../support/hostProcess";
import type { CpuPerDelivery } from "./cpuPerDelivery";
import type { Figures, TargetResult } from "./figures";
import type { BenchOptions } from "./options";
import type { RssWindow } from "./rss";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** Load average (1 min) when the run started: other work on a shared machine shows here. */
  loadAverageAtStart: number;
}

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    loadAverageAtStart: Math.round(loadavg()[0] * 100) / 100,
  };
}

const int = (value: number | undefined) =>
  value === undefined || !Number.isFinite(value) ? "-" : Math.round(value).toLocaleString("en");
const dec = (value: number | undefined, digits = 2) =>
  value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !b ? "-" : `${(a / b).toFixed(2)}x`;

const cpu = (perDelivery: CpuPerDelivery | undefined) =>
  perDelivery
    ? [perDelivery.hostMs, perDelivery.azuriteMs, perDelivery.benchMs]
        .map((ms) => dec(ms))
        .join(" / ")
    : "-";

const rssWindow = (window: RssWindow) =>
  `${dec(window.p99Ms, 0)}, ${dec(window.hostCpuMs)} / ${dec(window.azuriteCpuMs)}`;

const percentiles = (figures: { p50Ms: number; p99Ms: number } | undefined) =>
  figures ? `${dec(figures.p50Ms, 0)} / ${dec(figures.p99Ms, 0)}` : "-";

/** The figures and the targets, as printed at the end of a run. */
export function formatReport(figures: Figures, targets: TargetResult[], machine: Machine): string {
  const { azurite, throughput, roundTrips, latency, coldStart, reconcile, rss } = figures;
  const bridgeTp = throughput?.bridge;
  const naiveTp = throughput?.naive;
  const rows: [string, string, string, string][] = [
    [
      "Azurite: single inserts/s (createEntity, 50 in flight)",
      int(azurite?.singleInsertsPerS),
      "",
      "",
    ],
    ["Azurite: entities/s in 100-entity transactions", int(azurite?.batchEntitiesPerS), "", ""],
    [
      `deliveries/s at ${throughput?.concurrency ?? 50} concurrent`,
      dec(bridgeTp?.deliveriesPerS, 1),
      dec(naiveTp?.deliveriesPerS, 1),
      ratio(bridgeTp?.deliveriesPerS, naiveTp?.deliveriesPerS),
    ],
    [
      "  bridge / Azurite single-insert ceiling",
      "",
      "",
      ratio(bridgeTp?.deliveriesPerS, azurite?.singleInsertsPerS),
    ],
    ["p50 / p99 at peak (ms)", percentiles(bridgeTp), percentiles(naiveTp), ""],
    [
      "Table round trips per delivery, low load",
      dec(roundTrips?.bridge.lowLoad.tablePerDelivery),
      dec(roundTrips?.naive.lowLoad.tablePerDelivery),
      "",
    ],
    [
      `Table round trips per delivery, ${roundTrips?.concurrency ?? 50} concurrent`,
      dec(roundTrips?.bridge.concurrent.tablePerDelivery),
      dec(roundTrips?.naive.concurrent.tablePerDelivery),
      "",
    ],
    [
      "Service Bus sends per delivery, low load",
      dec(roundTrips?.bridge.lowLoad.sendsPerDelivery),
      dec(roundTrips?.naive.lowLoad.sendsPerDelivery),
      "",
    ],
    [
      "Service Bus sends per delivery, at peak",
      dec(bridgeTp?.sendsPerDelivery),
      dec(naiveTp?.sendsPerDelivery),
      "",
    ],
    [
      `p50 / p99 at half the peak rate, ${dec(latency?.halfPeak.rate, 0)}/s (ms)`,
      percentiles(latency?.halfPeak),
      percentiles(latency?.naiveAtHalfPeak),
      "",
    ],
    [
      "Service Bus sends per delivery, at half the peak rate",
      dec(latency?.halfPeak.sendsPerDelivery),
      dec(latency?.naiveAtHalfPeak.sendsPerDelivery),
      "",
    ],
    [
      "CPU per delivery at peak, host / Azurite / bench (ms)",
      cpu(bridgeTp?.cpuPerDelivery),
      cpu(naiveTp?.cpuPerDelivery),
      "",
    ],
    [
      "CPU per delivery at half the peak rate, same (ms)",
      cpu(latency?.halfPeak.cpuPerDelivery),
      cpu(latency?.naiveAtHalfPeak.cpuPerDelivery),
      "",
    ],
    [
      `cold start, spawn to first 200, median of ${coldStart?.bridgeMs.length ?? "-"} (ms)`,
      int(coldStart?.bridgeMedianMs),
      int(coldStart?.naiveMedianMs),
      ratio(coldStart?.bridgeMedianMs, coldStart?.naiveMedianMs),
    ],
    [
      `reconcile of ${reconcile?.openWindows ?? "-"} windows, no history (ms)`,
      int(reconcile?.withoutHistory.medianMs),
      "",
      "",
    ],
    [
      `  with ${int(reconcile?.withHistory.history)} closed items (ms)`,
      int(reconcile?.withHistory.medianMs),
      "",
      ratio(reconcile?.withHistory.medianMs, reconcile?.withoutHistory.medianMs),
    ],
    [
      `host RSS, first / last ${dec(rss?.windowS, 0)} s of ${dec(rss?.durationS, 0)} s at ${dec(rss?.rate, 0)}/s, after ${dec(rss?.warmupS, 0)} s of warm-up (MiB)`,
      rss ? `${dec(rss.firstWindowMiB, 0)} / ${dec(rss.lastWindowMiB, 0)}` : "-",
      "",
      ratio(rss?.lastWindowMiB, rss?.firstWindowMiB),
    ],
    [
      "  same windows: p99 (ms), CPU per delivery host / Azurite (ms)",
      rss ? `${rssWindow(rss.first)}; ${rssWindow(rss.last)}` : "-",
      "",
      ratio(rss?.last.azuriteCpuMs, rss?.first.azuriteCpuMs),
    ],
    [
      "  the fresh host: after its first delivery / after the warm-up (MiB)",
      rss ? `${dec(rss.coldMiB, 0)} / ${dec(rss.warmedMiB, 0)}` : "-",
      "",
      ratio(rss?.warmedMiB, rss?.coldMiB),
    ],
  ];
  const lines = [
    "",
    `Machine: ${machine.cores} x ${machine.cpu}, ${machine.memoryGiB} GiB, Node.js ${machine.node}, Linux ${machine.kernel}, load average ${machine.loadAverageAtStart} at start`,
    "",
    ...table(["Figure", "bridge", "naive", "ratio"], rows),
    "",
    ...table(
      ["#", "Target (issue 8)", "threshold", "measured", "result"],
      targets.map((t) => [
        String(t.issueTarget),
        t.stretch ? `${t.name} (stretch)` : t.name,
        t.threshold,
        t.measured,
        t.verdict,
      ]),
    ),
  ];
  const failures = [
    ["bridge at peak", bridgeTp?.failures],
    ["naive at peak", naiveTp?.failures],
    ["bridge at half peak", latency?.halfPeak.failures],
    ["naive at the same rate", latency?.naiveAtHalfPeak.failures],
    ["bridge during the RSS warm-up", rss?.warmupFailures],
    ["bridge during the RSS run", rss?.failures],
  ] as const;
  for (const [label, byStatus] of failures) {
    if (byStatus && Object.keys(byStatus).length > 0) {
      lines.push(`non-2xx ${label}: ${JSON.stringify(byStatus)}`);
    }
  }
  if (bridgeTp) {
    const byAction = Object.entries(bridgeTp.byAction).map(
      ([action, { p50Ms, p99Ms }]) => `${action} ${p50Ms.toFixed(0)} / ${p99Ms.toFixed(0)}`,
    );
    lines.push("", `bridge p50 / p99 at peak by action (ms): ${byAction.join(", ")}`);
  }
  if (roundTrips) {
    lines.push(
      "",
      `bridge Table round trips per delivery by table, low load: ${JSON.stringify(roundTrips.bridge.lowLoad.byTable)}`,
      `  by action, low load: ${JSON.stringify(roundTrips.bridge.lowLoad.byAction)}`,
      `  at ${roundTrips.concurrency} concurrent: ${JSON.stringify(roundTrips.bridge.concurrent.byTable)}`,
    );
  }
  if (figures.correctness && !figures.correctness.ok) {
    lines.push(`DELIVERY CHECK FAILED: ${JSON.stringify(figures.correctness)}`);
  }
  return lines.join("\n");
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => (column === 0 || column === 1 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((width, column) => (column <= 1 ? `-${"-".repeat(width)}-` : `-${"-".repeat(width)}:`)).join("|")}|`,
    ...rows.map(line),
  ];
}

/** Writes bench/results/<start time>.json (a short run's name says so) and returns its path. */
export function writeResults(
  startedAt: Date,
  options: BenchOptions,
  machine: Machine,
  figures: Figures,
  targets: TargetResult[],
): string {
  const directory = join(APP_ROOT, "bench", "results");
  mkdirSync(directory, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replace(/:/g, "-")
    .replace(/\.\d+Z$/, "Z");
  const path = join(directory, `${stamp}${options.short ? "-short" : ""}.json`);
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: commit(),
    options: { ...options, phases: [...options.phases] },
    machine,
    figures,
    targets,
  };
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

function commit(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: APP_ROOT, encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? "+uncommitted changes" : ""}`;
  } catch {
    return "unknown";
  }
}
