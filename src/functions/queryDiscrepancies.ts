import { app } from "@azure/functions";
import { TableQueries } from "../adapters/tableQueries";
import { getBridge } from "../bridge";
import { queryDiscrepancies } from "../query/listings";

const queries = new TableQueries(getBridge());

app.http("queryDiscrepancies", {
  route: "discrepancies",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryDiscrepancies(request, context, queries),
});
