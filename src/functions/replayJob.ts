import { app } from "@azure/functions";
import { getOperator } from "../operator";
import { showReplayJob } from "../replay/replayRoutes";

const operator = getOperator();

app.http("replayJob", {
  route: "replay/{jobId}",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) => showReplayJob(request, context, { jobs: operator.replayJobs }),
});
