import { app } from "@azure/functions";
import { getRegistryAccess } from "../backfill/registryAccess";

const access = getRegistryAccess();

// Off unless WEBHOOK_PING_SCHEDULE is set and ACR_RESOURCE_IDS names a registry to check.
if (access.settings.pingScheduled) {
  app.timer("webhookHealth", {
    schedule: "%WEBHOOK_PING_SCHEDULE%",
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
