import type { InvocationContext } from "@azure/functions";
import { logRunReport } from "../telemetry/runReport";
import type { WebhookHealthReport } from "./checkWebhookHealth";

/** A webhook health run's report, with a warning per unhealthy webhook that names its problems. */
export function logWebhookHealthReport(
  context: InvocationContext,
  report: WebhookHealthReport,
): void {
  for (const webhook of report.unhealthy) {
    context.warn(
      `webhook-unhealthy ${webhook.registryId}/webhooks/${webhook.webhook}: ${webhook.reasons.join("; ")}`,
    );
  }
  logRunReport(context, "webhookHealth", report);
}
