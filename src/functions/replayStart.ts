import { app } from "@azure/functions";
import { loadReplaySettings } from "../config";
import { getOperator } from "../operator";
import { startReplay } from "../replay/replayRoutes";

const settings = loadReplaySettings(process.env);
const operator = getOperator();

app.http("replayStart", {
  route: "replay",
  methods: ["POST"],
  authLevel: "function",
  handler: (request, context) =>
    startReplay(request, context, {
      jobs: operator.replayJobs,
      source: operator.reads,
      maxWindowMs: settings.maxWindowMs,
    }),
});
