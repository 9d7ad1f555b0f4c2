import { app } from "@azure/functions";
import { loadReplayConfig } from "../config";
import { getOperator } from "../operator";
import { startReplay } from "../replay/replayRoutes";

const config = loadReplayConfig(process.env);
const operator = getOperator();

app.http("replayStart", {
  route: "replay",
  methods: ["POST"],
  authLevel: "function",
  handler: (request, context) =>
    startReplay(request, context, {
      jobs: operator.replayJobs,
      source: operator.reads,
      maxWindowMs: config.maxWindowMs,
      pageSize: config.pageSize,
    }),
});
