import { setTimeout as sleep } from "node:timers/promises";
import type { InvocationContext } from "@azure/functions";
import { type ServiceBusTrigger, settlementOf } from "../adapters/serviceBusSettlement";
import type { EventGridSettings } from "../config";
import { DependencyUnavailableError } from "../core/ports";
import { printable } from "../core/printable";
import {
  handleEventGridQueueMessage,
  type QueueMessageOutcome,
} from "./handleEventGridQueueMessage";
import { type EventGridDependencies, ingestEventGridEvents } from "./ingestEventGridEvents";

/** The longest a message is held before it is abandoned: well inside the queue's 1-minute lock. */
const MAX_OUTAGE_HOLD_MS = 45_000;

/**
 * How long a message is held (locked) before it is abandoned while storage is down: a second more
 * each delivery, up to `MAX_OUTAGE_HOLD_MS`. Abandoned at once, the queue's 2000 deliveries
 * (Service Bus's most) were spent in minutes and the event dead-lettered; held so, they last
 * about a day, as long as the queue keeps the event and Event Grid would have retried it.
 */
export function outageHoldMs(deliveryCount: number): number {
  return Math.min(Math.max(deliveryCount, 1) * 1000, MAX_OUTAGE_HOLD_MS);
}

/**
 * One message of the Event Grid queue trigger, which settles its messages itself (sdkBinding):
 * complete once recorded, dead-letter with a reason what no retry can mend, abandon on a storage
 * outage so that Service Bus redelivers it (and fail the invocation, so that the outage shows).
 */
export async function settleEventGridQueueMessage(
  trigger: ServiceBusTrigger,
  context: InvocationContext,
  queueName: string,
  settings: EventGridSettings,
  deps: EventGridDependencies,
): Promise<void> {
  const settlement = settlementOf(trigger);
  const abandon = () => settlement.abandon().catch(() => {});
  let outcome: QueueMessageOutcome;
  try {
    outcome = await handleEventGridQueueMessage(
      { body: settlement.body, messageId: settlement.message.messageId },
      queueName,
      context,
      settings,
      (events, request, invocation) => ingestEventGridEvents(events, request, invocation, deps),
    );
  } catch (error) {
    await abandon();
    throw error;
  }
  if (outcome.kind === "complete") return await settlement.complete();
  if (outcome.kind === "abandon") {
    await sleep(outageHoldMs(settlement.message.deliveryCount ?? 1));
    await abandon();
    throw DependencyUnavailableError.of(outcome.failure);
  }
  context.warn(
    `event grid queue message ${printable(String(settlement.message.messageId))} dead-lettered: ${outcome.reason}: ${outcome.description}`,
  );
  await settlement.deadLetter(outcome.reason, outcome.description);
}
