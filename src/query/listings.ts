import { pagedListing } from "./pagedListing";
import { parseDiscrepanciesQuery, parseEventsQuery } from "./queryParameters";
import { deliveryView, discrepancyView } from "./queryViews";

/** `GET /api/events`: recorded deliveries with what the bridge did. */
export const queryEvents = pagedListing(
  parseEventsQuery,
  (queries, query) => queries.listDeliveries(query),
  deliveryView,
);

/** `GET /api/discrepancies`: the cross-check's findings. */
export const queryDiscrepancies = pagedListing(
  parseDiscrepanciesQuery,
  (queries, query) => queries.listDiscrepancies(query),
  discrepancyView,
);
