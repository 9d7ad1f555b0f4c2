import type { CrossCheckRow } from "../adapters/tableQueries";
import { VERDICTS, type Verdict } from "../core/crossCheck";

type StateCounts = Record<Verdict, number> & { total: number };

export interface DelayDistribution {
  count: number;
  median: number | null;
  p95: number | null;
  max: number | null;
}

export interface CrossCheckStats {
  crossChecks: StateCounts & { byAction: Record<string, StateCounts> };
  /** matched / every verdict; null without any. Late matches count as matched. */
  matchRate: number | null;
  /** Webhook to Event Grid, over matches inside the window; nearest-rank percentiles. */
  delayMs: DelayDistribution;
  /**
   * Twins that came after the window had closed with a finding, which they resolved: how late,
   * as the distance between the two sides. Their p95 is a lower bound for a window that would
   * have matched them in time (`CROSSCHECK_WINDOW_SECONDS`).
   */
  lateMatches: DelayDistribution;
}

export function summarizeCrossChecks(rows: readonly CrossCheckRow[]): CrossCheckStats {
  const totals = emptyCounts();
  // A Map: actions are the payload's words, `__proto__` among them.
  const byAction = new Map<string, StateCounts>();
  const delays: number[] = [];
  const lateDelays: number[] = [];
  for (const row of rows) {
    if (!isVerdict(row.state)) continue;
    let actionCounts = byAction.get(row.action);
    if (!actionCounts) {
      actionCounts = emptyCounts();
      byAction.set(row.action, actionCounts);
    }
    for (const counts of [totals, actionCounts]) {
      counts[row.state]++;
      counts.total++;
    }
    if (row.state === "matched" && row.delayMs !== undefined && Number.isFinite(row.delayMs)) {
      if (row.late) lateDelays.push(Math.abs(row.delayMs));
      else delays.push(row.delayMs);
    }
  }
  return {
    crossChecks: { ...totals, byAction: Object.fromEntries(byAction) },
    matchRate: totals.total === 0 ? null : totals.matched / totals.total,
    delayMs: distribution(delays),
    lateMatches: distribution(lateDelays),
  };
}

function distribution(values: number[]): DelayDistribution {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    median: nearestRank(sorted, 0.5),
    p95: nearestRank(sorted, 0.95),
    max: sorted.at(-1) ?? null,
  };
}

/** The smallest value with at least `fraction` of the values at or below it. */
function nearestRank(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? null;
}

function emptyCounts(): StateCounts {
  return {
    total: 0,
    matched: 0,
    "webhook-only": 0,
    "eventgrid-only": 0,
    mismatched: 0,
    "quarantine-held": 0,
  };
}

function isVerdict(state: string): state is Verdict {
  return (VERDICTS as readonly string[]).includes(state);
}
