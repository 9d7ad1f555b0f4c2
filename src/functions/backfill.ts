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

// Off unless BACKFILL_SCHEDULE is set and ACR_RESOURCE_IDS names a registry to read.
if (access.settings.backfillScheduled) {
  app.timer("backfill", {
    schedule: "%BACKFILL_SCHEDULE%",
    handler: async (_timer, context) => {
      const report = await access.backfill();
      const line = JSON.stringify(report);
      if (report.errors.length > 0) context.warn(`backfill: ${line}`);
      else context.log(`backfill: ${line}`);
    },
  });
}
