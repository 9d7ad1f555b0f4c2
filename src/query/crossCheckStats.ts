import type { CrossCheckRow } from "../adapters/tableQueries";
import { DISCREPANCY_KINDS } from "../core/crossCheck";

/** What a closed window ends as. */
export const VERDICTS = ["matched", ...DISCREPANCY_KINDS] as const;
type Verdict = (typeof VERDICTS)[number];
type StateCounts = Record<Verdict, number> & { total: number };

export interface CrossCheckStats {
  crossChecks: StateCounts & { byAction: Record<string, StateCounts> };
  /** matched / (matched + webhook-only + eventgrid-only + mismatched); null without any. */
  matchRate: number | null;
  /** Webhook to Event Grid, over matched events; nearest-rank percentiles. */
  delayMs: { count: number; median: number | null; p95: number | null };
}

export function summarizeCrossChecks(rows: readonly CrossCheckRow[]): CrossCheckStats {
  const totals = emptyCounts();
  const byAction: Record<string, StateCounts> = {};
  const delays: number[] = [];
  for (const row of rows) {
    if (!isVerdict(row.state)) continue;
    byAction[row.action] ??= emptyCounts();
    for (const counts of [totals, byAction[row.action]]) {
      counts[row.state]++;
      counts.total++;
    }
    if (row.state === "matched" && row.delayMs !== undefined && Number.isFinite(row.delayMs)) {
      delays.push(row.delayMs);
    }
  }
  delays.sort((a, b) => a - b);
  return {
    crossChecks: { ...totals, byAction },
    matchRate: totals.total === 0 ? null : totals.matched / totals.total,
    delayMs: {
      count: delays.length,
      median: nearestRank(delays, 0.5),
      p95: nearestRank(delays, 0.95),
    },
  };
}

/** The smallest value with at least `fraction` of the values at or below it. */
function nearestRank(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? null;
}

function emptyCounts(): StateCounts {
  return { total: 0, matched: 0, "webhook-only": 0, "eventgrid-only": 0, mismatched: 0 };
}

function isVerdict(state: string): state is Verdict {
  return (VERDICTS as readonly string[]).includes(state);
}
