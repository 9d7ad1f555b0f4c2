import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { RECONCILE_RUN_MS } from "../config";
import { reconcile } from "../core/reconcile";
import { countReconcile, inSpan } from "../telemetry/instruments";
import { logRunLine } from "../telemetry/runReport";

const bridge = getBridge();

// RECONCILE_SCHEDULE is an NCRONTAB expression (every minute by default in the sample settings).
app.timer("reconcile", {
  schedule: "%RECONCILE_SCHEDULE%",
  handler: async (_timer, context) => {
    const report = await inSpan("acr.reconcile", {}, () =>
      reconcile(
        bridge,
        { routing: bridge.routing, ...bridge.crossCheckSettings, runMs: RECONCILE_RUN_MS },
        Date.now(),
        Date.now,
      ),
    );
    countReconcile(report);
    // A re-drive that failed is a failure of the run, as its errors are: a warning.
    logRunLine(context, "reconcile", report, report.errors.length > 0 || report.redriveFailed > 0);
  },
});
