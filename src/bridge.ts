import { createServiceBusClient, createTableClient } from "./adapters/clients";
import { ServiceBusPublisher } from "./adapters/serviceBusPublisher";
import { TableEventStore } from "./adapters/tableEventStore";
import { DELIVERIES_TABLE, PENDING_TABLE } from "./adapters/tableLayout";
import {
  loadPublishTimeoutMs,
  loadRoutingTable,
  loadServiceBusConnection,
  loadTablesConnection,
  loadTablesTimeoutMs,
} from "./config";
import type { EventStore, Publisher } from "./core/ports";
import type { RoutingTable } from "./core/routing";

/** The adapters every function shares, built once per process from the settings. */
export interface Bridge {
  routing: RoutingTable;
  store: EventStore;
  publisher: Publisher & { close(): Promise<void> };
}

let bridge: Bridge | undefined;

export function getBridge(env: Record<string, string | undefined> = process.env): Bridge {
  bridge ??= createBridge(env);
  return bridge;
}

function createBridge(env: Record<string, string | undefined>): Bridge {
  const tables = loadTablesConnection(env);
  const timeoutMs = loadTablesTimeoutMs(env);
  const publishTimeoutMs = loadPublishTimeoutMs(env);
  return {
    routing: loadRoutingTable(env),
    store: new TableEventStore({
      deliveries: createTableClient(tables, DELIVERIES_TABLE),
      pending: createTableClient(tables, PENDING_TABLE),
      timeoutMs,
    }),
    publisher: new ServiceBusPublisher({
      client: createServiceBusClient(loadServiceBusConnection(env), publishTimeoutMs),
      timeoutMs: publishTimeoutMs,
    }),
  };
}

/** Closes the Service Bus links so the process can exit promptly. */
export async function closeBridge(): Promise<void> {
  const current = bridge;
  bridge = undefined;
  await current?.publisher.close();
}
