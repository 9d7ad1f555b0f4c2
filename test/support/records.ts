import type { TableClient } from "@azure/data-tables";
import { eventIdKeys } from "../../src/adapters/tableLayout";
import type { RegistryEvent } from "../../src/core/registryEvent";

type Arrival = Pick<RegistryEvent, "registry" | "repository" | "eventId" | "origin">;

/**
 * The stored record of one arrival, as Table Storage holds it, found through its event-id row;
 * rejects (404) when there is none.
 */
export async function recordEntity(
  events: TableClient,
  arrival: Arrival,
): Promise<Record<string, unknown>> {
  const keys = eventIdKeys(arrival as RegistryEvent);
  const index = await events.getEntity<{ recordRowKey: string }>(keys.partitionKey, keys.rowKey);
  return events.getEntity<Record<string, unknown>>(keys.partitionKey, index.recordRowKey);
}
