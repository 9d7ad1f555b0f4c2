import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { loadSilenceThresholdMs } from "../config";
import { watchSources } from "../core/sourceSilence";
import { getOperator } from "../operator";
import { logRunReport } from "../telemetry/runReport";
import { arrivalsOf } from "../watch/arrivals";

const thresholdMs = loadSilenceThresholdMs(process.env);
const bridge = getBridge();
const operator = getOperator();

// On the reconcile's schedule: it reads only what arrived since its last run, never the hot path.
app.timer("sourceWatch", {
  schedule: "%RECONCILE_SCHEDULE%",
  handler: async (_timer, context) => {
    const report = await watchSources(
      {
        store: operator.sourceWatch,
        arrivals: arrivalsOf(operator.reads),
        publish: (message) =>
          bridge.publisher.publish(bridge.crossCheckSettings.discrepancyTopic, message),
      },
      thresholdMs,
      Date.now(),
    );
    logRunReport(context, "sourceWatch", report);
  },
});
