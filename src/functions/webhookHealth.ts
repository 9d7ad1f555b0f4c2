import { app } from "@azure/functions";
import { getRegistryAccess } from "../backfill/registryAccess";
import { logWebhookHealthReport } from "../webhookHealth/logWebhookHealthReport";

const access = getRegistryAccess();

// WEBHOOK_PING_SCHEDULE (every 15 minutes by default; `off`), only when ACR_RESOURCE_IDS names a registry.
const schedule = access.settings.pingSchedule;
if (schedule) {
  app.timer("webhookHealth", {
    schedule,
    handler: async (_timer, context) =>
      logWebhookHealthReport(context, await access.checkWebhooks(Date.now())),
  });
}
