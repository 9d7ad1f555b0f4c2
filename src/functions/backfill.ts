import { app } from "@azure/functions";
import { handleBackfillRequest } from "../backfill/handleBackfillRequest";
import { getRegistryAccess } from "../backfill/registryAccess";
import { logRunReport } from "../telemetry/runReport";

const access = getRegistryAccess();

app.http("backfillRequest", {
  route: "backfill",
  methods: ["POST"],
  authLevel: "function",
  handler: (request) => handleBackfillRequest(request, access),
});

// BACKFILL_SCHEDULE (every 5 minutes by default; `off`), only when ACR_RESOURCE_IDS names a registry.
const schedule = access.settings.backfillSchedule;
if (schedule) {
  app.timer("backfill", {
    schedule,
    handler: async (_timer, context) => logRunReport(context, "backfill", await access.backfill()),
  });
}
