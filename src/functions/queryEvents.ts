import { app } from "@azure/functions";
import { getOperator } from "../operator";
import { queryEvents } from "../query/listings";

const operator = getOperator();

app.http("queryEvents", {
  route: "events",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryEvents(request, context, operator.queries),
});
