import { DefaultAzureCredential } from "@azure/identity";
import { shutdownAzureMonitor, useAzureMonitor } from "@azure/monitor-opentelemetry";

/**
 * OpenTelemetry to Azure Monitor, on only when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set.
 * With `APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD[;ClientId=<id>]` the exporter
 * authenticates with the managed identity (Application Insights with local auth disabled).
 */
export function startTelemetry(env: Record<string, string | undefined>): boolean {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return false;
  const authentication = env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? "";
  const clientId = /ClientId=([^;]+)/i.exec(authentication)?.[1];
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      credential: /Authorization=AAD/i.test(authentication)
        ? new DefaultAzureCredential({ managedIdentityClientId: clientId })
        : undefined,
    },
    instrumentationOptions: { azureSdk: { enabled: true }, http: { enabled: true } },
  });
  return true;
}

export async function stopTelemetry(): Promise<void> {
  await shutdownAzureMonitor();
}
