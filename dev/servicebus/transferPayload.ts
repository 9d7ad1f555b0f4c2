import { message as amqp, type Message } from "rhea";
import { type MessageContent, parseMessageContent } from "./brokeredMessage";
import { createReader } from "./rheaInternals";

/** The message format Service Bus senders use for a batch (createMessageBatch, array sends). */
const BATCH_MESSAGE_FORMAT = 0x80013700;

/**
 * The messages in one transfer. rhea decodes standard (format 0) transfers itself, so those are
 * re-encoded; a batch arrives raw: an envelope whose data sections each hold an encoded message.
 * The envelope's own properties are not delivered, exactly as on Azure.
 */
export function messagesInTransfer(body: Message | Buffer, format: number): MessageContent[] {
  if (format === 0 && !Buffer.isBuffer(body)) return [parseMessageContent(amqp.encode(body))];
  if (format !== BATCH_MESSAGE_FORMAT || !Buffer.isBuffer(body)) {
    throw new Error(`unsupported message format 0x${format.toString(16)}`);
  }
  const reader = createReader(body);
  const messages: MessageContent[] = [];
  while (reader.remaining() > 0) {
    const section = reader.read();
    const descriptor = (section as { descriptor?: { value: unknown } }).descriptor?.value;
    if (descriptor === 0x75 || descriptor === "amqp:data:binary") {
      messages.push(parseMessageContent(section.value as Buffer));
    }
  }
  return messages;
}
