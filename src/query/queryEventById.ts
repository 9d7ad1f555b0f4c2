import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { TableEventStore } from "../adapters/tableEventStore";
import { errorResponse } from "../http/errorResponse";
import { answerQuery } from "./answerQuery";
import { parseEventId } from "./queryParameters";
import { deliveryView, logicalEventView } from "./queryViews";

export interface EventLookup {
  store: Pick<TableEventStore, "findById">;
}

/**
 * `GET /api/events/{id}`: every recorded arrival with the id (webhook and Event Grid), found
 * through the event-id index, and the logical event they belong to with its cross-check state.
 */
export function queryEventById(
  request: HttpRequest,
  context: InvocationContext,
  lookup: EventLookup,
): Promise<HttpResponseInit> {
  return answerQuery(
    request,
    context,
    (r) => parseEventId(r.params.id),
    async (id) => {
      const arrivals = await lookup.store.findById(id);
      const deliveries = arrivals.map((arrival) => arrival.record);
      const logical = arrivals.find((arrival) => arrival.logical)?.logical;
      if (deliveries.length === 0) {
        return errorResponse(404, "not_found", "no event with this id was recorded");
      }
      return {
        status: 200,
        jsonBody: {
          id,
          crossCheck: logical?.state,
          logicalEvent: logical && logicalEventView(logical),
          deliveries: deliveries.map(deliveryView),
        },
      };
    },
  );
}
