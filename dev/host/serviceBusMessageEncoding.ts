import type { ServiceBusReceivedMessage } from "@azure/service-bus";
import { message as amqp, type Message } from "rhea";

/**
 * The received message as AMQP bytes, the form in which the host passes it to an `sdkBinding`
 * function (the extension decodes it back into a ServiceBusReceivedMessage). The body becomes one
 * data section: bytes as they are, text as UTF-8, anything else as its JSON.
 */
export function encodedMessage(message: ServiceBusReceivedMessage): Buffer {
  const body = message.body;
  const bytes =
    Buffer.isBuffer(body) || body instanceof Uint8Array
      ? Buffer.from(body)
      : Buffer.from(typeof body === "string" ? body : JSON.stringify(body ?? null), "utf8");
  const encoded: Message = {
    message_id: message.messageId,
    correlation_id: message.correlationId,
    content_type: message.contentType,
    subject: message.subject,
    to: message.to,
    reply_to: message.replyTo,
    // Counting this delivery, 1 on the first: the host's .NET SDK adds it to the header's count of
    // earlier deliveries before it hands the message on, as the trigger metadata's count does.
    delivery_count: (message.deliveryCount ?? 0) + 1,
    application_properties: message.applicationProperties,
    message_annotations: {
      "x-opt-sequence-number": message.sequenceNumber?.toNumber(),
      "x-opt-enqueued-time": message.enqueuedTimeUtc?.getTime(),
    },
    body: amqp.data_section(bytes),
  };
  return amqp.encode(encoded);
}
