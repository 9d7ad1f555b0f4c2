import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { TableQueries } from "../adapters/tableQueries";
import { isoTime } from "../core/isoTime";
import { answerQuery } from "./answerQuery";
import { summarizeCrossChecks } from "./crossCheckStats";
import { parseStatsQuery } from "./queryParameters";

/**
 * `GET /api/stats`: the cross-check's closed windows whose first arrival lies in the range
 * (counts per action and state, match rate, webhook -> Event Grid delay) and the Event Grid
 * rejections in the range.
 */
export function queryStats(
  request: HttpRequest,
  context: InvocationContext,
  queries: Pick<TableQueries, "crossCheckRows" | "countRejections">,
): Promise<HttpResponseInit> {
  return answerQuery(
    request,
    context,
    (r, now) => parseStatsQuery(r.query, now),
    async ({ window, registry }) => {
      const [crossChecks, rejections] = await Promise.all([
        queries.crossCheckRows(window, registry),
        queries.countRejections(window),
      ]);
      return {
        status: 200,
        jsonBody: {
          from: isoTime(window.from),
          to: isoTime(window.to),
          registry,
          ...summarizeCrossChecks(crossChecks.rows),
          rejections,
        },
      };
    },
  );
}
