import type { InvocationContext } from "@azure/functions";
import { logRunReport } from "../telemetry/runReport";
import type { WebhookHealthReport } from "./checkWebhookHealth";

/**
 * A webhook health run's report, with a warning per unhealthy webhook that names its problems,
 * per registry none of whose webhooks delivers to the bridge and per registry ARM does not find,
 * a line per registry removed from ACR_RESOURCE_IDS and per webhook deleted from its registry.
 */
export function logWebhookHealthReport(
  context: InvocationContext,
  report: WebhookHealthReport,
): void {
  for (const webhook of report.unhealthy) {
    context.warn(
      `webhook-unhealthy ${webhook.registryId}/webhooks/${webhook.webhook}: ${webhook.reasons.join("; ")}`,
    );
  }
  for (const registry of report.uncovered) {
    context.warn(`webhook-missing ${registry.registryId}: ${registry.reasons.join("; ")}`);
  }
  for (const registryId of report.notFound) {
    context.warn(
      `${registryId}: not found by ARM (deleted, or a wrong id in ACR_RESOURCE_IDS), not checked`,
    );
  }
  for (const registryId of report.unconfigured) {
    context.log(
      `${registryId}: no longer in ACR_RESOURCE_IDS, its findings resolved, no longer checked`,
    );
  }
  for (const where of report.deleted) {
    context.log(`${where}: deleted from its registry, no longer checked`);
  }
  logRunReport(context, "webhookHealth", report);
}
