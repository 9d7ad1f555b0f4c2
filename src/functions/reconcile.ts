import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { reconcile } from "../core/reconcile";
import { countReconcile, inSpan } from "../telemetry/instruments";
import { logRunReport } from "../telemetry/runReport";

const bridge = getBridge();

// RECONCILE_SCHEDULE is an NCRONTAB expression (every minute by default in the sample settings).
app.timer("reconcile", {
  schedule: "%RECONCILE_SCHEDULE%",
  handler: async (_timer, context) => {
    const report = await inSpan("acr.reconcile", {}, () =>
      reconcile(bridge, { routing: bridge.routing, ...bridge.crossCheckSettings }, Date.now()),
    );
    countReconcile(report);
    logRunReport(context, "reconcile", report);
  },
});
