import { app } from "@azure/functions";
import { TableQueries } from "../adapters/tableQueries";
import { getBridge } from "../bridge";
import { answerPage } from "../query/answerPage";
import { parseEventsQuery } from "../query/queryParameters";
import { deliveryView } from "../query/queryViews";

const queries = new TableQueries(getBridge());

app.http("queryEvents", {
  route: "events",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) =>
    answerPage(
      request,
      context,
      parseEventsQuery,
      (query) => queries.listDeliveries(query),
      deliveryView,
    ),
});
