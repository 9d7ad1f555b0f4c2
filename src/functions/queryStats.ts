import { app } from "@azure/functions";
import { getOperator } from "../operator";
import { queryStats } from "../query/queryStats";

const operator = getOperator();

app.http("queryStats", {
  route: "stats",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryStats(request, context, operator.queries),
});
