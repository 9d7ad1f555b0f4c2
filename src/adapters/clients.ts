import { TableClient } from "@azure/data-tables";
import type { DefaultAzureCredential } from "@azure/identity";
import { ServiceBusClient } from "@azure/service-bus";
import type { ServiceBusConnection, TablesConnection } from "../config";

/** One credential for every client: its token cache then serves them all (one token fetch, not ten). */
let sharedCredential: DefaultAzureCredential | undefined;

export function credential(): DefaultAzureCredential {
  // Loaded only for managed-identity connections: connection strings never need it.
  sharedCredential ??= new (
    require("@azure/identity") as typeof import("@azure/identity")
  ).DefaultAzureCredential();
  return sharedCredential;
}

export function createTableClient(connection: TablesConnection, table: string): TableClient {
  const retryOptions = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 400 };
  if (connection.kind === "managed-identity") {
    return new TableClient(connection.endpoint, table, credential(), {
      retryOptions,
    });
  }
  // The settings have had the SDK read the string (see `tablesConnectionProblem`).
  return TableClient.fromConnectionString(connection.connectionString, table, {
    allowInsecureConnection: isLoopbackStorage(connection.connectionString),
    retryOptions,
  });
}

/** Azurite serves plain http on loopback; nothing else may send the account key unencrypted. */
function isLoopbackStorage(connectionString: string): boolean {
  return /UseDevelopmentStorage=true|TableEndpoint=http:\/\/(127\.0\.0\.1|localhost)[:/]/i.test(
    connectionString,
  );
}

export function createServiceBusClient(
  connection: ServiceBusConnection,
  timeoutMs: number,
): ServiceBusClient {
  const options = { retryOptions: { maxRetries: 1, retryDelayInMs: 100, timeoutInMs: timeoutMs } };
  return connection.kind === "managed-identity"
    ? new ServiceBusClient(connection.namespace, credential(), options)
    : new ServiceBusClient(connection.connectionString, options);
}
