import { app } from "@azure/functions";
import { getBridge } from "../bridge";
import { RECONCILE_RUN_MS } from "../config";
import { reconcile } from "../core/reconcile";
import { countReconcile, inSpan } from "../telemetry/instruments";
import { logRunReport } from "../telemetry/runReport";

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
    logRunReport(context, "reconcile", report);
  },
});
