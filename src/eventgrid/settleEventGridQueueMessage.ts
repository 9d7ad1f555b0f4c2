import type { InvocationContext } from "@azure/functions";
import { type ServiceBusTrigger, settlementOf } from "../adapters/serviceBusSettlement";
import type { EventGridSettings } from "../config";
import { DependencyUnavailableError } from "../core/ports";
import {
  handleEventGridQueueMessage,
  type QueueMessageOutcome,
} from "./handleEventGridQueueMessage";
import { type EventGridDependencies, ingestEventGridEvents } from "./ingestEventGridEvents";

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
    await abandon();
    throw DependencyUnavailableError.of(outcome.failure);
  }
  context.warn(
    `event grid queue message ${settlement.message.messageId} dead-lettered: ${outcome.reason}: ${outcome.description}`,
  );
  await settlement.deadLetter(outcome.reason, outcome.description);
}
