import { app } from "@azure/functions";
import { getOperator } from "../operator";
import { queryDiscrepancies } from "../query/listings";

const operator = getOperator();

app.http("queryDiscrepancies", {
  route: "discrepancies",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryDiscrepancies(request, context, operator.queries),
});
