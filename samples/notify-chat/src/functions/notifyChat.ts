import { app } from "@azure/functions";
import { notifyChatHandler } from "../notifyChat";
import { loadSettings } from "../settings";

app.serviceBusTopic("notifyChat", {
  // SERVICEBUS (a connection string) or SERVICEBUS__fullyQualifiedNamespace (managed identity).
  connection: "SERVICEBUS",
  topicName: "%NOTIFY_TOPIC%",
  subscriptionName: "%NOTIFY_SUBSCRIPTION%",
  handler: notifyChatHandler(loadSettings(process.env)),
});
