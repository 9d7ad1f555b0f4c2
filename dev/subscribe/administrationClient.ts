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
  const { connectionString, port } = emulatorEndpoint(connection.connectionString);
  let ca: string;
  try {
    ca = readFileSync(localCertificatePath(port), "utf8");
  } catch {
    throw new Error(`No local Service Bus is running on port ${port} (start it with npm start).`);
  }
  return new ServiceBusAdministrationClient(connectionString, { agent: new Agent({ ca }) });
}

/** The port AMQP defaults to, where the local broker also serves its administration endpoint. */
const EMULATOR_DEFAULT_PORT = 5672;

/**
 * An emulator's connection string with its port spelled out: without one the administration
 * client goes to HTTPS's 443, while the local broker serves administration on its AMQP port.
 */
export function emulatorEndpoint(connectionString: string): {
  connectionString: string;
  port: number;
} {
  const endpoint = /Endpoint=sb:\/\/[^:;/]+(?::(\d+))?/i.exec(connectionString);
  if (!endpoint) return { connectionString, port: EMULATOR_DEFAULT_PORT };
  if (endpoint[1] !== undefined) return { connectionString, port: Number(endpoint[1]) };
  return {
    connectionString: connectionString.replace(
      endpoint[0],
      `${endpoint[0]}:${EMULATOR_DEFAULT_PORT}`,
    ),
    port: EMULATOR_DEFAULT_PORT,
  };
}
