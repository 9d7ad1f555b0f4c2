require("@azure/functions-extensions-servicebus");
const { app } = require("@azure/functions");

// Every invocation, for the tests to inspect: { fn, body, metadata }.
const calls = [];
globalThis.serviceBusFixtureCalls = calls;

app.serviceBusQueue("onQueue", {
  connection: "ServiceBusConnection",
  queueName: "%WORK_QUEUE%",
  handler: (message, context) => {
    calls.push({ fn: "onQueue", body: message, metadata: context.triggerMetadata });
    if (message.fail) throw new Error(`failing on purpose (${message.id})`);
  },
});

app.serviceBusTopic("onTopic", {
  connection: "ServiceBusConnection",
  topicName: "events",
  subscriptionName: "host",
  handler: (message, context) => {
    calls.push({ fn: "onTopic", body: message, metadata: context.triggerMetadata });
  },
});

// Settles its messages itself, as the message's body says.
app.serviceBusQueue("onSdkQueue", {
  connection: "ServiceBusConnection",
  queueName: "settled-by-function",
  sdkBinding: true,
  autoCompleteMessages: false,
  handler: async ({ messages, actions }) => {
    const message = Array.isArray(messages) ? messages[0] : messages;
    calls.push({ fn: "onSdkQueue", body: message.body, deliveryCount: message.deliveryCount });
    const { settle } = message.body;
    if (settle === "deadLetter") {
      // The extension (0.2.0-preview) declares strings but serialises google.protobuf.StringValue.
      await actions.deadletter(
        message,
        undefined,
        { value: "NotForUs" },
        { value: "the fixture refused it" },
      );
    } else if (settle === "abandon") {
      await actions.abandon(message);
    } else if (settle === "complete") {
      await actions.complete(message);
    } else {
      throw new Error("no settlement asked");
    }
  },
});
