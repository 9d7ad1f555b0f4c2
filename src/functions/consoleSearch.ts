import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { searchEvents } from "../console/searchEvents";
import { getOperator } from "../operator";

const bridge = getBridge();
const operator = getOperator();

app.http("consoleSearch", {
  route: "search",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) =>
    searchEvents(request, context, { lookup: bridge, queries: operator.queries }),
});
