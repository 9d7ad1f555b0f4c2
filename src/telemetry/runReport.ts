import type { InvocationContext } from "@azure/functions";
import type { WebhookHealthReport } from "../webhookHealth/checkWebhookHealth";

/** Logs a timer run's report on one line, `<name>: <JSON>`, as a warning when the run had failures. */
export function logRunLine(
  context: InvocationContext,
  name: string,
  report: unknown,
  failed: boolean,
): void {
  const line = `${name}: ${JSON.stringify(report)}`;
  if (failed) context.warn(line);
  else context.log(line);
}

/** The same for a report that lists its run's failures in `errors`. */
export function logRunReport(
  context: InvocationContext,
  name: string,
  report: { errors: readonly unknown[] },
): void {
  logRunLine(context, name, report, report.errors.length > 0);
}

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
