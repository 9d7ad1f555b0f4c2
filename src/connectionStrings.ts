import { TableClient } from "@azure/data-tables";
import { parseServiceBusConnectionString } from "@azure/service-bus";
import type { Result } from "./core/result";

/**
 * What is wrong with a connection string, for the settings that hold one, as the SDK that reads it
 * says: checked when the settings load, so a wrong one stops the app with an error naming the
 * setting. The SDKs' own checks name a key, never a value (the values hold the secrets); a
 * TypeError is an SDK tripping over text that is no connection string at all, and its message is
 * left out.
 */
function readBySdk<T>(kind: string, read: () => T): Result<T, string> {
  try {
    return { ok: true, value: read() };
  } catch (error) {
    const said =
      error instanceof Error && !(error instanceof TypeError) ? `: ${error.message}` : "";
    return { ok: false, failure: `is not a ${kind} connection string${said}` };
  }
}

const TABLES_FORMS =
  "UseDevelopmentStorage=true, DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=… (or TableEndpoint=…), or TableEndpoint=…;SharedAccessSignature=…";

/** A Table Storage connection string `@azure/data-tables` can use: development, account key, or SAS. */
export function tablesConnectionProblem(connectionString: string): string | undefined {
  const read = readBySdk("Table Storage", () =>
    TableClient.fromConnectionString(connectionString, "settings"),
  );
  return read.ok ? undefined : `${read.failure} (expected ${TABLES_FORMS})`;
}

const SERVICE_BUS_FORMS =
  "Endpoint=sb://<namespace>/;SharedAccessKeyName=…;SharedAccessKey=…, or Endpoint=…;SharedAccessSignature=…";

/**
 * A namespace's Service Bus connection string with a key or a signature: the bridge sends to
 * several topics and a queue, so one scoped to a single entity (`EntityPath`) cannot serve it.
 */
export function serviceBusConnectionProblem(connectionString: string): string | undefined {
  const read = readBySdk("Service Bus", () => parseServiceBusConnectionString(connectionString));
  const problem = read.ok ? whatParsedLacks(read.value) : read.failure;
  return problem && `${problem} (expected ${SERVICE_BUS_FORMS})`;
}

function whatParsedLacks(
  parsed: ReturnType<typeof parseServiceBusConnectionString>,
): string | undefined {
  if (!parsed.fullyQualifiedNamespace) return "has an Endpoint that names no host";
  if (!parsed.sharedAccessKey && !parsed.sharedAccessSignature) {
    return "has neither SharedAccessKeyName and SharedAccessKey nor SharedAccessSignature";
  }
  if (parsed.entityPath) {
    return "names one entity (EntityPath); the bridge needs the namespace's connection string";
  }
  return undefined;
}
