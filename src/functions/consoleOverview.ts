import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadSilenceThresholdMs } from "../config";
import { queryOverview } from "../console/overview";
import { getOperator } from "../operator";

const bridge = getBridge();
const operator = getOperator();
const silenceThresholdMs = loadSilenceThresholdMs(process.env);

app.http("consoleOverview", {
  route: "overview",
  methods: ["GET"],
  authLevel: "function",
  handler: (request, context) =>
    queryOverview(request, context, {
      reads: operator.reads,
      watch: operator.sourceWatch,
      crossCheckWindowMs: bridge.crossCheckSettings.windowMs,
      silenceThresholdMs,
    }),
});
