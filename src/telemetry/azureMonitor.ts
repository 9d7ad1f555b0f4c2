import type * as Identity from "@azure/identity";
import type * as AzureMonitor from "@azure/monitor-opentelemetry";
import type * as AzureSdkSupport from "@azure/opentelemetry-instrumentation-azure-sdk";

import { traceInvocations } from "./invocations";

let monitor: typeof AzureMonitor | undefined;

/**
 * OpenTelemetry to Azure Monitor, on only when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set:
 * only then are the distro and its SDK loaded (they cost cold-start time for nothing otherwise).
 * With `APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD[;ClientId=<id>]` the exporter
 * authenticates with the managed identity (Application Insights with local auth disabled).
 */
export function startTelemetry(env: Record<string, string | undefined>): boolean {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return false;
  const authentication = env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ?? "";
  const clientId = /ClientId=([^;]+)/i.exec(authentication)?.[1];
  // Before the distro registers its own invocation hook, which binds each handler to the host's
  // trace context: hooks run in order, so the request span then starts inside that context.
  traceInvocations();
  // Handed to the HTTP instrumentation as they are (the distro's type only names `enabled`).
  const outgoingHttpOnly = { enabled: true, ignoreIncomingRequestHook: () => true };
  monitor = require("@azure/monitor-opentelemetry") as typeof AzureMonitor;
  monitor.useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      credential: /Authorization=AAD/i.test(authentication)
        ? new (require("@azure/identity") as typeof Identity).DefaultAzureCredential({
            managedIdentityClientId: clientId,
          })
        : undefined,
    },
    instrumentationOptions: {
      azureSdk: { enabled: true },
      // Outgoing calls only: the requests are the invocations' spans (./invocations.ts).
      http: outgoingHttpOnly,
    },
  });
  traceAzureSdkCalls();
  quietDeprecatedBaseUriWarning();
  return true;
}

/**
 * The distro makes the Azure SDKs trace through OpenTelemetry by hooking `require` of
 * `@azure/core-tracing`, which never happens when the SDKs were loaded first or are bundled (the
 * deployment package is): hand the instrumenter to `@azure/core-tracing` directly.
 */
function traceAzureSdkCalls(): void {
  const { AzureSdkInstrumentation } =
    require("@azure/opentelemetry-instrumentation-azure-sdk") as typeof AzureSdkSupport;
  const coreTracing = require("@azure/core-tracing");
  // Disabled: only its patch is wanted, not a second require hook.
  for (const definition of new AzureSdkInstrumentation({ enabled: false }).getModuleDefinitions()) {
    definition.patch?.(coreTracing);
  }
}

/**
 * The distro turns Azure SDK logging on at `warning`, and @azure/data-tables' generated client
 * then prints "The baseUri option for SDK Clients has been deprecated" for every Table call: an
 * SDK-internal deprecation nobody running the bridge can act on. Every other line still prints.
 */
function quietDeprecatedBaseUriWarning(): void {
  const { AzureLogger } = require("@azure/logger") as typeof import("@azure/logger");
  const write = AzureLogger.log;
  AzureLogger.log = (...args: unknown[]) => {
    if (!args.some((arg) => String(arg).includes("The baseUri option for SDK Clients"))) {
      write(...args);
    }
  };
}

export async function stopTelemetry(): Promise<void> {
  await monitor?.shutdownAzureMonitor();
}
