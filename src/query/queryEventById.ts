import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { TableEventStore } from "../adapters/tableEventStore";
import { crossCheckOf, type LogicalEvent } from "../core/crossCheck";
import type { DeliveryRecord } from "../core/deliveryRecord";
import { errorResponse } from "../http/errorResponse";
import { answerQuery } from "./answerQuery";
import { parseEventId } from "./queryParameters";
import { deliveryView, logicalEventView } from "./queryViews";

export interface EventLookup {
  store: Pick<TableEventStore, "findById">;
}

/**
 * `GET /api/events/{id}`: every recorded arrival with the id (webhook and Event Grid), found
 * through the event-id index, the logical event they belong to, and where its cross-check stands.
 */
export function queryEventById(
  request: HttpRequest,
  context: InvocationContext,
  lookup: EventLookup,
): Promise<HttpResponseInit> {
  return answerEvent(request, context, lookup, async ({ id, logical, deliveries }) => ({
    id,
    crossCheck: crossCheckOf(logical, deliveries),
    logicalEvent: logical && logicalEventView(logical),
    deliveries: deliveries.map(deliveryView),
  }));
}

export interface FoundEvent {
  id: string;
  logical?: LogicalEvent;
  deliveries: DeliveryRecord[];
}

/**
 * A route about one event id (`{id}`): 400 for what cannot be an id, 404 when nothing was
 * recorded under it, else 200 with what `view` makes of it.
 */
export function answerEvent(
  request: HttpRequest,
  context: InvocationContext,
  lookup: EventLookup,
  view: (found: FoundEvent) => Promise<unknown>,
): Promise<HttpResponseInit> {
  return answerQuery(
    request,
    context,
    (r) => parseEventId(r.params.id),
    async (id) => {
      const found = await findEvent(lookup, id);
      if (found.deliveries.length === 0) {
        return errorResponse(404, "not_found", "no event with this id was recorded");
      }
      return { status: 200, jsonBody: await view({ id, ...found }) };
    },
  );
}

/** Every recorded arrival with the id, through the event-id index, and their logical event. */
export async function findEvent(
  lookup: EventLookup,
  id: string,
): Promise<{ logical?: LogicalEvent; deliveries: DeliveryRecord[] }> {
  const arrivals = await lookup.store.findById(id);
  return {
    logical: arrivals.find((arrival) => arrival.logical)?.logical,
    deliveries: arrivals.map((arrival) => arrival.record),
  };
}
