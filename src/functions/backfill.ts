import { app } from "@azure/functions";
import { handleBackfillRequest } from "../backfill/handleBackfillRequest";
import { getRegistryAccess } from "../backfill/registryAccess";

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
    handler: async (_timer, context) => {
      const report = await access.backfill();
      const line = JSON.stringify(report);
      if (report.errors.length > 0) context.warn(`backfill: ${line}`);
      else context.log(`backfill: ${line}`);
    },
  });
}
