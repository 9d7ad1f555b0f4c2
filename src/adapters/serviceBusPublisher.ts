import type { ServiceBusClient, ServiceBusSender } from "@azure/service-bus";
import { describeError } from "../core/ingestDelivery";
import { DependencyUnavailableError, type Publisher } from "../core/ports";
import type { TopicMessage } from "../core/topicMessage";
import { inSpan } from "../telemetry/instruments";

export interface ServiceBusPublisherOptions {
  client: ServiceBusClient;
  /** Bounds one publish, connection included, so the delivery is answered inside ACR's 5 s. */
  timeoutMs: number;
}

/** One sender per topic, kept for the life of the process (AMQP links are costly to open). */
export class ServiceBusPublisher implements Publisher {
  private readonly senders = new Map<string, ServiceBusSender>();

  constructor(private readonly options: ServiceBusPublisherOptions) {}

  publish(topic: string, message: TopicMessage): Promise<void> {
    return inSpan("servicebus.publish", { "messaging.destination.name": topic }, () =>
      this.send(topic, message),
    );
  }

  private async send(topic: string, message: TopicMessage): Promise<void> {
    const sender = this.senderFor(topic);
    try {
      await sender.sendMessages(
        {
          messageId: message.messageId,
          contentType: message.contentType,
          subject: message.subject,
          body: message.body,
          applicationProperties: message.applicationProperties,
        },
        { abortSignal: AbortSignal.timeout(this.options.timeoutMs) },
      );
    } catch (error) {
      // A sender whose link broke is dropped, so the next publish opens a fresh one.
      this.senders.delete(topic);
      await sender.close().catch(() => undefined);
      throw new DependencyUnavailableError("service-bus", describeError(error));
    }
  }

  /**
   * Opens a fresh link to the topic, which takes a round trip to the namespace, and sends nothing.
   * A cached sender would not do: its link can look open while the broker is gone.
   */
  async probe(topic: string): Promise<void> {
    const sender = this.options.client.createSender(topic);
    try {
      await sender.createMessageBatch({ abortSignal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (error) {
      throw new DependencyUnavailableError("service-bus", describeError(error));
    } finally {
      await sender.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const senders = [...this.senders.values()];
    this.senders.clear();
    await Promise.all(senders.map((sender) => sender.close().catch(() => undefined)));
  }

  private senderFor(topic: string): ServiceBusSender {
    let sender = this.senders.get(topic);
    if (!sender) {
      sender = this.options.client.createSender(topic);
      this.senders.set(topic, sender);
    }
    return sender;
  }
}
