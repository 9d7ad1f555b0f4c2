import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { queryEventStory } from "../console/eventStory";
import { getOperator } from "../operator";

const bridge = getBridge();
const operator = getOperator();

app.http("consoleStory", {
  route: "story/{id}",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) =>
    queryEventStory(request, context, { lookup: bridge, jobs: operator.replayJobs }),
});
