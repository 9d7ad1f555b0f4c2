import { TableClient } from "@azure/data-tables";
import { EventTables } from "../../src/adapters/eventTables";
import { eventIdKeys } from "../../src/adapters/tableLayout";
import type { RegistryEvent } from "../../src/core/registryEvent";

type Arrival = Pick<RegistryEvent, "registry" | "repository" | "eventId" | "origin">;

/**
 * The stored record of one arrival, as Table Storage holds it, found through its event-id row;
 * rejects (404) when there is none.
 */
export async function recordEntity(
  events: EventTables,
  arrival: Arrival,
): Promise<Record<string, unknown>> {
  const keys = eventIdKeys(arrival as RegistryEvent);
  const table = events.of(keys.partitionKey);
  const index = await table.getEntity<{ recordRowKey: string }>(keys.partitionKey, keys.rowKey);
  return table.getEntity<Record<string, unknown>>(keys.partitionKey, index.recordRowKey);
}

/** The event store's tables in the stack's Azurite. */
export function eventTables(tablesConnection: string): EventTables {
  return new EventTables((name) =>
    TableClient.fromConnectionString(tablesConnection, name, { allowInsecureConnection: true }),
  );
}
