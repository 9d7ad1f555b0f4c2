import { app } from "@azure/functions";
import { TableQueries } from "../adapters/tableQueries";
import { getBridge } from "../bridge";
import { answerPage } from "../query/answerPage";
import { parseDiscrepanciesQuery } from "../query/queryParameters";
import { discrepancyView } from "../query/queryViews";

const queries = new TableQueries(getBridge());

app.http("queryDiscrepancies", {
  route: "discrepancies",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) =>
    answerPage(
      request,
      context,
      parseDiscrepanciesQuery,
      (query) => queries.listDiscrepancies(query),
      discrepancyView,
    ),
});
