import { app } from "@azure/functions";
import {
  enableServiceBusSdkBinding,
  type ServiceBusTrigger,
} from "../adapters/serviceBusSettlement";
import { getBridge } from "../bridge";
import { loadEventGridQueue, loadEventGridSettings } from "../config";
import { settleEventGridQueueMessage } from "../eventgrid/settleEventGridQueueMessage";

const queueName = loadEventGridQueue(process.env);

// Registered only when Event Grid is set to deliver into a queue (EVENTGRID_QUEUE); the function
// settles each message itself (sdkBinding).
if (queueName !== undefined) {
  const settings = loadEventGridSettings(process.env);
  const deps = { ...getBridge(), loginServer: settings.loginServer };
  enableServiceBusSdkBinding();
  app.serviceBusQueue("acrEventGridQueue", {
    connection: "SERVICEBUS_CONNECTION",
    queueName,
    sdkBinding: true,
    autoCompleteMessages: false,
    handler: (trigger: ServiceBusTrigger, context) =>
      settleEventGridQueueMessage(trigger, context, queueName, settings, deps),
  });
}
