import { TableClient, TableServiceClient } from "@azure/data-tables";
import { defaultTopology } from "../../dev/servicebus/topology";
import type { LocalStack } from "./localStack";

/**
 * Everything a local stack holds, for tests that check what a run left behind or that a request
 * changed nothing: every entity of every table of its Azurite, and every message on every
 * subscription of every topic and on every queue of its Service Bus, dead letters too.
 */

const TOPOLOGY = defaultTopology();
const TABLE_OPTIONS = { allowInsecureConnection: true };

/** A client for every table of the stack's Azurite. */
async function* everyTable(stack: LocalStack): AsyncGenerator<TableClient> {
  const service = TableServiceClient.fromConnectionString(stack.tablesConnection, TABLE_OPTIONS);
  for await (const table of service.listTables()) {
    yield TableClient.fromConnectionString(
      stack.tablesConnection,
      String(table.name),
      TABLE_OPTIONS,
    );
  }
}

/** How many entities every table holds, by table. */
export async function entityCounts(stack: LocalStack): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for await (const client of everyTable(stack)) {
    let count = 0;
    for await (const _ of client.listEntities({ queryOptions: { select: ["PartitionKey"] } })) {
      count += 1;
    }
    counts[client.tableName] = count;
  }
  return counts;
}

/** Every entity of every table, each as `<table> <entity as JSON>`. */
export async function everyEntity(stack: LocalStack): Promise<string[]> {
  const entities: string[] = [];
  for await (const client of everyTable(stack)) {
    for await (const entity of client.listEntities()) {
      entities.push(`${client.tableName} ${JSON.stringify(entity)}`);
    }
  }
  return entities;
}

/** Every place a message can rest: each subscription and each queue, live and dead-lettered. */
function messagePlaces(): { entity: string; subscription?: string }[] {
  return [
    ...TOPOLOGY.topics.flatMap((topic) =>
      topic.subscriptions.map((subscription) => ({
        entity: topic.name,
        subscription: subscription.name,
      })),
    ),
    ...TOPOLOGY.queues.map((queue) => ({ entity: queue.name })),
  ];
}

/** How many messages the stack's Service Bus holds, dead letters included. */
export function messageCount(stack: LocalStack): number {
  const broker = stack.broker();
  let total = 0;
  for (const { entity, subscription } of messagePlaces()) {
    total += broker.messageCount(entity, subscription);
    total += broker.deadLetterCount(entity, subscription);
  }
  return total;
}

/** Every message the stack's Service Bus holds, dead letters included, each as JSON. */
export function everyMessage(stack: LocalStack): string[] {
  const broker = stack.broker();
  const messages: unknown[] = [];
  for (const { entity, subscription } of messagePlaces()) {
    messages.push(...broker.messages(entity, subscription));
    messages.push(...broker.deadLetterMessages(entity, subscription));
  }
  return messages.map((message) => JSON.stringify(message));
}

/** What the stack holds, counted: entities by table, and messages. */
export interface Inventory {
  entities: Record<string, number>;
  messages: number;
}

export async function inventory(stack: LocalStack): Promise<Inventory> {
  return { entities: await entityCounts(stack), messages: messageCount(stack) };
}
