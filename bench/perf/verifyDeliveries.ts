import { TableClient } from "@azure/data-tables";
import type { LocalServiceBus } from "../../dev/servicebus/broker";
import { EventTables } from "../../src/adapters/eventTables";
import { RECORD_ROWS, rowsOfKind } from "../../src/adapters/tableLayout";
import { TOPIC_BY_ACTION } from "../naive/naiveLayout";
import type { Delivered } from "./load";

export interface DeliveryCheck {
  checked: number;
  /** Acknowledged deliveries without a webhook record, or with more than one. */
  missingRecords: number;
  duplicateRecords: number;
  /** Acknowledged deliveries with no message on their action's topic, more than one, or one elsewhere. */
  missingMessages: number;
  duplicateMessages: number;
  misrouted: number;
  ok: boolean;
}

/**
 * What became of the bridge's acknowledged deliveries: each has exactly one record (read from the
 * build's deliveries table) and exactly one message, on its action's topic (the `all` subscription
 * keeps everything published: nothing consumes it during a run).
 */
export async function verifyDeliveries(
  tablesConnection: string,
  broker: LocalServiceBus,
  delivered: readonly Delivered[],
): Promise<DeliveryCheck> {
  const records = new Map<string, number>();
  const events = new EventTables((name) =>
    TableClient.fromConnectionString(tablesConnection, name, { allowInsecureConnection: true }),
  );
  const rows = events.scan<{ eventId?: string; origin?: string }>(rowsOfKind(RECORD_ROWS), [
    "eventId",
    "origin",
  ]);
  for await (const row of rows) {
    if (row.origin !== "webhook" || !row.eventId) continue;
    records.set(row.eventId, (records.get(row.eventId) ?? 0) + 1);
  }

  const messages = new Map<string, string[]>();
  for (const topic of new Set(Object.values(TOPIC_BY_ACTION))) {
    for (const message of broker.messages(topic, "all")) {
      const id = eventIdOf(message.body);
      if (id !== undefined) messages.set(id, [...(messages.get(id) ?? []), topic]);
    }
  }

  const check: DeliveryCheck = {
    checked: delivered.length,
    missingRecords: 0,
    duplicateRecords: 0,
    missingMessages: 0,
    duplicateMessages: 0,
    misrouted: 0,
    ok: false,
  };
  for (const { id, action } of delivered) {
    const recordCount = records.get(id) ?? 0;
    if (recordCount === 0) check.missingRecords += 1;
    if (recordCount > 1) check.duplicateRecords += 1;
    const topics = messages.get(id) ?? [];
    if (topics.length === 0) check.missingMessages += 1;
    if (topics.length > 1) check.duplicateMessages += 1;
    if (topics.some((topic) => topic !== TOPIC_BY_ACTION[action])) check.misrouted += 1;
  }
  check.ok = check.checked > 0 && deliveryProblems(check) === 0;
  return check;
}

export function deliveryProblems(check: DeliveryCheck): number {
  return (
    check.missingRecords +
    check.duplicateRecords +
    check.missingMessages +
    check.duplicateMessages +
    check.misrouted
  );
}

/** The bridge publishes CloudEvents whose `data` is ACR's payload; the naive bridge the payload. */
function eventIdOf(body: unknown): string | undefined {
  const envelope = body as { data?: { id?: unknown }; id?: unknown } | undefined;
  const id = envelope?.data?.id ?? envelope?.id;
  return typeof id === "string" ? id : undefined;
}
