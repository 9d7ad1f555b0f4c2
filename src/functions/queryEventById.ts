import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { queryEventById } from "../query/queryEventById";

const bridge = getBridge();

app.http("queryEventById", {
  route: "events/{id}",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => queryEventById(request, context, bridge),
});
