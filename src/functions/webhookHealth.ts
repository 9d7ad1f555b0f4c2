import { app } from "@azure/functions";
import { getRegistryAccess } from "../backfill/registryAccess";
import { logWebhookHealthReport } from "../webhookHealth/logWebhookHealthReport";

const access = getRegistryAccess();

// WEBHOOK_PING_SCHEDULE (every 15 minutes by default; `off`). With no registry in ACR_RESOURCE_IDS a
// run asks ARM nothing: it resolves and forgets what is kept of registries no longer configured.
const schedule = access.settings.pingSchedule;
if (schedule) {
  app.timer("webhookHealth", {
    schedule,
    handler: async (_timer, context) =>
      logWebhookHealthReport(context, await access.checkWebhooks(Date.now())),
  });
}
