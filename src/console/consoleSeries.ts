import type { DeliveryRow } from "../adapters/tableOperatorReads";
import type { CrossCheckRow, TimeWindow } from "../adapters/tableQueries";

/** About this many points per chart, whatever the window. */
const TARGET_BUCKETS = 48;
const BUCKET_STEPS_MS = [
  60_000, 300_000, 900_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 86_400_000,
];

function bucketMsFor(window: TimeWindow): number {
  const wanted = (window.to - window.from) / TARGET_BUCKETS;
  return BUCKET_STEPS_MS.find((step) => step >= wanted) ?? BUCKET_STEPS_MS.at(-1) ?? 86_400_000;
}

export interface ConsoleSeries {
  bucketMs: number;
  /** Start of each bucket, epoch seconds (what uPlot takes). */
  times: number[];
  /** Deliveries per action per bucket, by their arrival (the window they were read by). */
  deliveries: Record<string, number[]>;
  /** matched / closed windows per bucket; null where none closed. */
  matchRate: (number | null)[];
}

export function consoleSeries(
  window: TimeWindow,
  deliveries: readonly DeliveryRow[],
  crossChecks: readonly CrossCheckRow[],
): ConsoleSeries {
  const bucketMs = bucketMsFor(window);
  const first = Math.floor(window.from / bucketMs) * bucketMs;
  const count = Math.floor((window.to - first) / bucketMs) + 1;
  const times = Array.from({ length: count }, (_, index) => (first + index * bucketMs) / 1000);
  const bucketOf = (at: number) =>
    Math.min(count - 1, Math.max(0, Math.floor((at - first) / bucketMs)));
  // A Map: actions are the payload's words, `__proto__` among them.
  const perAction = new Map<string, number[]>();
  for (const row of deliveries) {
    let series = perAction.get(row.action);
    if (!series) {
      series = new Array<number>(count).fill(0);
      perAction.set(row.action, series);
    }
    series[bucketOf(row.receivedAt)]++;
  }
  const closed = new Array<number>(count).fill(0);
  const matched = new Array<number>(count).fill(0);
  for (const point of crossChecks) {
    const bucket = bucketOf(point.firstSeenAt);
    closed[bucket]++;
    if (point.state === "matched") matched[bucket]++;
  }
  return {
    bucketMs,
    times,
    deliveries: Object.fromEntries(perAction),
    matchRate: closed.map((total, index) => (total === 0 ? null : matched[index] / total)),
  };
}

export interface DeliveryCounts {
  total: number;
  pending: number;
  dead: number;
  /** Event Grid arrivals that came later than the cross-check window after ACR's timestamp. */
  lateEventGrid: number;
}

export function deliveryCounts(rows: readonly DeliveryRow[], windowMs: number): DeliveryCounts {
  return {
    total: rows.length,
    pending: rows.filter((row) => row.publishState === "pending").length,
    dead: rows.filter((row) => row.publishState === "dead").length,
    lateEventGrid: rows.filter(
      (row) => row.origin === "eventgrid" && row.receivedAt - row.occurredAt > windowMs,
    ).length,
  };
}
