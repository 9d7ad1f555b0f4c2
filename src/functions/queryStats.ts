import { app } from "@azure/functions";
import { TableQueries } from "../adapters/tableQueries";
import { getBridge } from "../bridge";
import { queryStats } from "../query/queryStats";

const queries = new TableQueries(getBridge());

app.http("queryStats", {
  route: "stats",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryStats(request, context, queries),
});
