import { app } from "@azure/functions";
import { getRegistryAccess } from "../backfill/registryAccess";

const access = getRegistryAccess();

// WEBHOOK_PING_SCHEDULE (every 15 minutes by default; `off`), only when ACR_RESOURCE_IDS names a registry.
const schedule = access.settings.pingSchedule;
if (schedule) {
  app.timer("webhookHealth", {
    schedule,
    handler: async (_timer, context) => {
      const report = await access.checkWebhooks(Date.now());
      for (const webhook of report.unhealthy) {
        context.warn(
          `webhook-unhealthy ${webhook.registryId}/webhooks/${webhook.webhook}: ${webhook.reasons.join("; ")}`,
        );
      }
      const line = JSON.stringify(report);
      if (report.errors.length > 0) context.warn(`webhookHealth: ${line}`);
      else context.log(`webhookHealth: ${line}`);
    },
  });
}
