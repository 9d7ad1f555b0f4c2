import { app } from "@azure/functions";
import {
  enableServiceBusSdkBinding,
  type ServiceBusTrigger,
  settlementOf,
} from "../adapters/serviceBusSettlement";
import { getBridge } from "../bridge";
import { loadEventGridQueue, loadEventGridSettings } from "../config";
import { handleEventGridQueueMessage } from "../eventgrid/handleEventGridQueueMessage";
import { ingestEventGridEvents } from "../eventgrid/ingestEventGridEvents";

const queueName = loadEventGridQueue(process.env);

// Registered only when Event Grid is set to deliver into a queue (EVENTGRID_QUEUE). The function
// settles each message itself (sdkBinding): complete once recorded, dead-letter with a reason what
// no retry can mend, abandon on a storage outage so that Service Bus redelivers it.
if (queueName !== undefined) {
  const settings = loadEventGridSettings(process.env);
  const bridge = getBridge();
  const deps = { ...bridge, loginServer: settings.loginServer };
  enableServiceBusSdkBinding();
  app.serviceBusQueue("acrEventGridQueue", {
    connection: "SERVICEBUS_CONNECTION",
    queueName,
    sdkBinding: true,
    autoCompleteMessages: false,
    handler: async (trigger: ServiceBusTrigger, context) => {
      const settlement = settlementOf(trigger);
      try {
        const outcome = await handleEventGridQueueMessage(
          settlement.message,
          queueName,
          context,
          settings,
          (events, request, invocation) => ingestEventGridEvents(events, request, invocation, deps),
        );
        if (outcome.kind === "complete") return await settlement.complete();
        context.warn(
          `event grid queue message ${settlement.message.messageId} dead-lettered: ${outcome.reason}: ${outcome.description}`,
        );
        await settlement.deadLetter(outcome.reason, outcome.description);
      } catch (error) {
        await settlement.abandon().catch(() => {});
        throw error;
      }
    },
  });
}
