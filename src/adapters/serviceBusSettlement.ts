import type { ServiceBusReceivedMessage } from "@azure/service-bus";

/**
 * Registers the extension that turns the host's message (SDK binding) into a
 * ServiceBusReceivedMessage with settlement actions. Only an app that registers an `sdkBinding`
 * function pays for loading it (gRPC included). Loaded with require: its declarations import its
 * TypeScript sources, which do not type-check on their own.
 */
export function enableServiceBusSdkBinding(): void {
  require("@azure/functions-extensions-servicebus");
}

/** What the extension hands a function with `sdkBinding: true` (its ServiceBusMessageContext). */
export interface ServiceBusTrigger {
  messages: ServiceBusReceivedMessage | ServiceBusReceivedMessage[];
  actions: {
    complete(message: ServiceBusReceivedMessage): Promise<void>;
    abandon(message: ServiceBusReceivedMessage): Promise<void>;
    deadletter(
      message: ServiceBusReceivedMessage,
      propertiesToModify?: Uint8Array,
      reason?: string,
      description?: string,
    ): Promise<void>;
  };
}

/** How a function with `sdkBinding: true` settles the one message it was given. */
export interface MessageSettlement {
  readonly message: ServiceBusReceivedMessage;
  /**
   * The body as sent: the bytes of an AMQP data section (how Event Grid writes an event), which
   * the extension would hand over as text decoded leniently, every byte that is not UTF-8 turned
   * into U+FFFD; any other body as the extension decoded it.
   */
  readonly body: unknown;
  complete(): Promise<void>;
  /** Back to the queue at once: Service Bus redelivers it (and counts the delivery). */
  abandon(): Promise<void>;
  deadLetter(reason: string, description: string): Promise<void>;
}

/** The first (with `cardinality: "one"`, the only) message of the trigger, with its actions. */
export function settlementOf(trigger: ServiceBusTrigger): MessageSettlement {
  const message = Array.isArray(trigger.messages) ? trigger.messages[0] : trigger.messages;
  const { actions } = trigger;
  return {
    message,
    body: bodyOf(message),
    complete: () => actions.complete(message),
    abandon: () => actions.abandon(message),
    deadLetter: (reason, description) =>
      // The extension's request declares these as strings, but its proto makes them
      // google.protobuf.StringValue: a bare string fails to serialise, the wrapper goes through.
      actions.deadletter(
        message,
        undefined,
        { value: reason } as unknown as string,
        { value: description } as unknown as string,
      ),
  };
}

/** AMQP's typecode of a data section (binary). */
const DATA_SECTION = 0x75;

function bodyOf(message: ServiceBusReceivedMessage): unknown {
  const raw: unknown = message._rawAmqpMessage?.body;
  const isDataSection =
    typeof raw === "object" &&
    raw !== null &&
    "typecode" in raw &&
    raw.typecode === DATA_SECTION &&
    "content" in raw &&
    raw.content instanceof Uint8Array;
  return isDataSection ? raw.content : message.body;
}
