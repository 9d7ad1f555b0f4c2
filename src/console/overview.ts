import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { OperatorReads } from "../adapters/tableOperatorReads";
import { isoTime } from "../core/isoTime";
import {
  type SourcePair,
  type SourceWatchStore,
  silenceFindingData,
  silenceOf,
  sourcePairs,
} from "../core/sourceSilence";
import { answerQuery } from "../query/answerQuery";
import { parseStatsQuery } from "../query/queryParameters";
import { consoleSeries, deliveryCounts } from "./consoleSeries";

export interface OverviewDeps {
  reads: Pick<OperatorReads, "deliveryRows" | "crossCheckPoints">;
  watch: Pick<SourceWatchStore, "seen" | "findings" | "lastScan">;
  crossCheckWindowMs: number;
  silenceThresholdMs: number;
}

/** Bounds one overview's read of deliveries and of closed windows. */
const MAX_ROWS = 50_000;

/**
 * `GET /api/overview` (same `from`, `to`, `registry` as `/api/stats`): the console's charts
 * (deliveries per action and match rate over time), pending, dead and late counts, each
 * registry/region's last webhook and Event Grid arrival, and the operational findings.
 */
export function queryOverview(
  request: HttpRequest,
  context: InvocationContext,
  deps: OverviewDeps,
): Promise<HttpResponseInit> {
  return answerQuery(
    request,
    context,
    (r, now) => parseStatsQuery(r.query, now),
    async ({ window, registry }) => {
      const now = Date.now();
      const [deliveries, crossChecks, seen, findings, scan] = await Promise.all([
        deps.reads.deliveryRows(window, registry, MAX_ROWS),
        deps.reads.crossCheckPoints(window, registry, MAX_ROWS),
        deps.watch.seen(),
        deps.watch.findings(),
        deps.watch.lastScan(),
      ]);
      const sources = sourcePairs(seen)
        .filter((pair) => registry === undefined || pair.registry === registry)
        .map((pair) => ({
          registry: pair.registry,
          region: pair.region,
          lastWebhookAt: isoTime(pair.webhookAt),
          lastEventGridAt: isoTime(pair.eventGridAt),
          webhookSilentForMs: pair.webhookAt === undefined ? undefined : now - pair.webhookAt,
          eventGridSilentForMs: pair.eventGridAt === undefined ? undefined : now - pair.eventGridAt,
          state: sourceState(pair, now, deps.silenceThresholdMs, scan?.listeningSince),
        }));
      return {
        status: 200,
        jsonBody: {
          from: isoTime(window.from),
          to: isoTime(window.to),
          registry,
          series: consoleSeries(window, deliveries.rows, crossChecks.rows),
          counts: deliveryCounts(deliveries.rows, deps.crossCheckWindowMs),
          truncated: deliveries.truncated || crossChecks.truncated,
          sources,
          operationalFindings: findings
            .map((entry) => entry.value)
            .filter((finding) => registry === undefined || finding.registry === registry)
            .sort((a, b) => (b.resolvedAt ?? b.openedAt) - (a.resolvedAt ?? a.openedAt))
            .map(silenceFindingData),
        },
      };
    },
  );
}

/** In words: a silence finding's kind, `quiet` when neither side delivers lately, else `delivering`. */
function sourceState(
  pair: SourcePair,
  now: number,
  thresholdMs: number,
  listeningSince: number | undefined,
): string {
  const silence = silenceOf(pair, now, thresholdMs, listeningSince);
  if (silence) return silence;
  const recent = (at: number | undefined) => at !== undefined && now - at <= thresholdMs;
  return recent(pair.webhookAt) || recent(pair.eventGridAt) ? "delivering" : "quiet";
}
