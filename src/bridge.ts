import { createServiceBusClient, createTableClient } from "./adapters/clients";
import { EventTables } from "./adapters/eventTables";
import { ServiceBusJournal } from "./adapters/serviceBusJournal";
import { closeWithin } from "./adapters/serviceBusLinks";
import { ServiceBusPublisher } from "./adapters/serviceBusPublisher";
import { TableEventStore } from "./adapters/tableEventStore";
import { TableFindingStore } from "./adapters/tableFindingStore";
import {
  CROSS_CHECKS_TABLE,
  DISCREPANCIES_TABLE,
  OUTAGES_TABLE,
  REGISTRIES_TABLE,
  REJECTIONS_TABLE,
} from "./adapters/tableLayout";
import { TableOutageLog } from "./adapters/tableOutageLog";
import { TableRegistryIndex } from "./adapters/tableRegistryIndex";
import { TableRejectionLog } from "./adapters/tableRejectionLog";
import {
  type CrossCheckSettings,
  loadCrossCheckSettings,
  loadJournalQueue,
  loadPublishTimeoutMs,
  loadRoutingTable,
  loadServiceBusConnection,
  loadTablesConnection,
  loadTablesTimeoutMs,
} from "./config";
import type { RoutingTable } from "./core/routing";

/** The adapters every function shares, built once per process from the settings. */
export interface Bridge {
  routing: RoutingTable;
  crossCheckSettings: CrossCheckSettings;
  store: TableEventStore;
  findings: TableFindingStore;
  rejections: TableRejectionLog;
  registries: TableRegistryIndex;
  publisher: ServiceBusPublisher;
  journal: ServiceBusJournal;
  /** The Table Storage outages Event Grid was refused in, for the cross-check. */
  outages: TableOutageLog;
  /** Every Service Bus entity the bridge sends to: the routed topics, the discrepancy topic, the journal. */
  serviceBusEntities: readonly string[];
  /** Table clients by table name, for the query API's reads. */
  tables: (name: string) => ReturnType<typeof createTableClient>;
}

let bridge: Bridge | undefined;

export function getBridge(env: Record<string, string | undefined> = process.env): Bridge {
  bridge ??= createBridge(env);
  return bridge;
}

function createBridge(env: Record<string, string | undefined>): Bridge {
  const connection = loadTablesConnection(env);
  const timeoutMs = loadTablesTimeoutMs(env);
  const publishTimeoutMs = loadPublishTimeoutMs(env);
  const clients = new Map<string, ReturnType<typeof createTableClient>>();
  const tables = (name: string) => {
    let client = clients.get(name);
    if (!client) {
      client = createTableClient(connection, name);
      clients.set(name, client);
    }
    return client;
  };
  const serviceBus = createServiceBusClient(loadServiceBusConnection(env), publishTimeoutMs);
  const registries = new TableRegistryIndex(tables(REGISTRIES_TABLE), timeoutMs);
  const routing = loadRoutingTable(env);
  const crossCheckSettings = loadCrossCheckSettings(env);
  const journalQueue = loadJournalQueue(env);
  return {
    routing,
    crossCheckSettings,
    store: new TableEventStore({
      events: new EventTables(tables),
      crossChecks: tables(CROSS_CHECKS_TABLE),
      timeoutMs,
      registries,
    }),
    findings: new TableFindingStore(tables(DISCREPANCIES_TABLE), timeoutMs),
    rejections: new TableRejectionLog(tables(REJECTIONS_TABLE), timeoutMs),
    registries,
    publisher: new ServiceBusPublisher({ client: serviceBus, timeoutMs: publishTimeoutMs }),
    journal: new ServiceBusJournal(serviceBus, journalQueue, publishTimeoutMs),
    outages: new TableOutageLog(tables(OUTAGES_TABLE), timeoutMs),
    serviceBusEntities: [
      ...new Set([
        ...Object.values(routing).map(({ topic }) => topic),
        crossCheckSettings.discrepancyTopic,
        journalQueue,
      ]),
    ],
    tables,
  };
}

/** How long closing the Service Bus links may take at shutdown before they are abandoned. */
const CLOSE_LINKS_MS = 3_000;

/**
 * Writes what lazy writes still hold, then closes the Service Bus links so the process can exit
 * promptly: links Service Bus does not answer for within a few seconds are abandoned, said in one
 * line.
 */
export async function closeBridge(): Promise<void> {
  const current = bridge;
  bridge = undefined;
  if (!current) return;
  await current.store.flush();
  const links = () => Promise.all([current.publisher.close(), current.journal.close()]);
  if (!(await closeWithin(links, CLOSE_LINKS_MS))) {
    console.warn(
      `closeBridge: Service Bus did not answer within ${CLOSE_LINKS_MS / 1000} s; its publish links were abandoned`,
    );
  }
}
