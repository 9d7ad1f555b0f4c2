import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { DefaultAzureCredential } from "@azure/identity";
import { ServiceBusAdministrationClient } from "@azure/service-bus";
import { loadServiceBusConnection } from "../../src/config";
import { localCertificatePath } from "../servicebus/localCertificate";

/**
 * The administration client for the bridge's Service Bus settings (SERVICEBUS_CONNECTION or
 * SERVICEBUS_NAMESPACE). The local broker's administration endpoint has a self-signed
 * certificate, left where it can be read while the broker runs.
 */
export function administrationClient(
  settings: Record<string, string | undefined>,
): ServiceBusAdministrationClient {
  const connection = loadServiceBusConnection(settings);
  if (connection.kind === "managed-identity") {
    return new ServiceBusAdministrationClient(connection.namespace, new DefaultAzureCredential());
  }
  if (!/UseDevelopmentEmulator=true/i.test(connection.connectionString)) {
    return new ServiceBusAdministrationClient(connection.connectionString);
  }
  const port = Number(
    /Endpoint=sb:\/\/[^:;/]+:(\d+)/i.exec(connection.connectionString)?.[1] ?? 5672,
  );
  let ca: string;
  try {
    ca = readFileSync(localCertificatePath(port), "utf8");
  } catch {
    throw new Error(`No local Service Bus is running on port ${port} (start it with npm start).`);
  }
  return new ServiceBusAdministrationClient(connection.connectionString, {
    agent: new Agent({ ca }),
  });
}
