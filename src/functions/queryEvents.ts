import { app } from "@azure/functions";
import { TableQueries } from "../adapters/tableQueries";
import { getBridge } from "../bridge";
import { queryEvents } from "../query/listings";

const queries = new TableQueries(getBridge());

app.http("queryEvents", {
  route: "events",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryEvents(request, context, queries),
});
