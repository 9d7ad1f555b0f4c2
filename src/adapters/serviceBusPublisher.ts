import {
  isServiceBusError,
  type ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusMessageBatch,
  type ServiceBusSender,
} from "@azure/service-bus";
import { describeError } from "../core/describeError";
import { DependencyUnavailableError, type Publisher, PublishRefusedError } from "../core/ports";
import type { TopicMessage } from "../core/topicMessage";
import { inSpan } from "../telemetry/instruments";
import { closeInBackground } from "./serviceBusLinks";

export interface ServiceBusPublisherOptions {
  client: ServiceBusClient;
  /**
   * Bounds one publish from the moment it is asked, time queued behind another send and
   * connection included, so the delivery is answered inside ACR's 5 s.
   */
  timeoutMs: number;
}

interface QueuedMessage {
  message: ServiceBusMessage;
  /** When its publish stops waiting: `timeoutMs` after it was asked, whatever it queued behind. */
  deadline: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * One sender per topic, kept for the life of the process (AMQP links are costly to open).
 * Messages for a topic that wait while a send to it is in flight go together in the next send,
 * one batch: a lone message is sent at once.
 */
export class ServiceBusPublisher implements Publisher {
  private readonly senders = new Map<string, ServiceBusSender>();
  private readonly queues = new Map<string, QueuedMessage[]>();

  constructor(private readonly options: ServiceBusPublisherOptions) {}

  publish(topic: string, message: TopicMessage): Promise<void> {
    return inSpan("servicebus.publish", { "messaging.destination.name": topic }, () =>
      this.enqueue(topic, {
        messageId: message.messageId,
        contentType: message.contentType,
        subject: message.subject,
        body: message.body,
        applicationProperties: message.applicationProperties,
      }),
    );
  }

  private enqueue(topic: string, message: ServiceBusMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const queued = { message, deadline: Date.now() + this.options.timeoutMs, resolve, reject };
      const queue = this.queues.get(topic);
      if (queue) {
        queue.push(queued);
        return;
      }
      this.queues.set(topic, [queued]);
      void this.drain(topic);
    });
  }

  private async drain(topic: string): Promise<void> {
    const queue = this.queues.get(topic) ?? [];
    while (queue.length > 0) {
      const waiting = queue.splice(0, queue.length);
      await this.sendAll(topic, waiting);
    }
    this.queues.delete(topic);
  }

  /**
   * Sends the messages in as few batches as their size allows; a batch fails or succeeds whole.
   * Every call is bounded by the earliest deadline among them (the first queued), so a message
   * that waited behind a send that got no answer has only what is left of its own time.
   */
  private async sendAll(topic: string, waiting: QueuedMessage[]): Promise<void> {
    const sender = this.senderFor(topic);
    const until = () => ({
      abortSignal: AbortSignal.timeout(Math.max(0, waiting[0].deadline - Date.now())),
    });
    let batch: ServiceBusMessageBatch | undefined;
    let inBatch: QueuedMessage[] = [];
    const flush = async () => {
      const sending = inBatch;
      inBatch = [];
      if (sending.length === 0 || !batch) return;
      try {
        await sender.sendMessages(batch, until());
        for (const queued of sending) queued.resolve();
      } catch (error) {
        this.dropSender(topic, sender);
        const failure = publishFailure(error);
        for (const queued of sending) queued.reject(failure);
      }
    };
    try {
      for (const queued of waiting) {
        batch ??= await sender.createMessageBatch(until());
        if (batch.tryAddMessage(queued.message)) {
          inBatch.push(queued);
          continue;
        }
        if (inBatch.length === 0) {
          queued.reject(new PublishRefusedError(TOO_LARGE));
          continue;
        }
        await flush();
        batch = await sender.createMessageBatch(until());
        if (batch.tryAddMessage(queued.message)) inBatch.push(queued);
        else queued.reject(new PublishRefusedError(TOO_LARGE));
      }
      await flush();
    } catch (error) {
      this.dropSender(topic, sender);
      const failure = publishFailure(error);
      for (const queued of [...inBatch, ...waiting]) queued.reject(failure);
    }
  }

  /**
   * A sender whose link broke is dropped, so the next publish opens a fresh one; the failed
   * publish does not wait for its close.
   */
  private dropSender(topic: string, sender: ServiceBusSender): void {
    if (this.senders.get(topic) === sender) this.senders.delete(topic);
    closeInBackground(sender);
  }

  /**
   * Opens a fresh link to the topic, which takes a round trip to the namespace, and sends nothing.
   * A cached sender would not do: its link can look open while the broker is gone.
   */
  /**
   * Opens a link to each entity at once (a round trip each, nothing sent), and fails naming every
   * one Service Bus refused (missing, disabled, unauthorised) or did not answer for in time.
   */
  async probe(entities: readonly string[]): Promise<void> {
    const failures = await Promise.all(entities.map((entity) => this.probeOne(entity)));
    const failed = failures.filter((failure) => failure !== undefined);
    if (failed.length > 0) throw new DependencyUnavailableError("service-bus", failed.join("; "));
  }

  private async probeOne(entity: string): Promise<string | undefined> {
    const sender = this.options.client.createSender(entity);
    try {
      await sender.createMessageBatch({ abortSignal: AbortSignal.timeout(this.options.timeoutMs) });
      return undefined;
    } catch (error) {
      return `${entity}: ${describeError(error)}`;
    } finally {
      closeInBackground(sender);
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

const TOO_LARGE = "message too large for a Service Bus batch";

/** Service Bus answered these, and will answer them again until someone changes something. */
const REFUSALS = new Set<string>([
  "MessagingEntityNotFound",
  "MessagingEntityDisabled",
  "MessageSizeExceeded",
  "UnauthorizedAccess",
]);

/** A refusal, or Service Bus not answering (timeouts, connections lost, busy, anything else). */
function publishFailure(error: unknown): Error {
  const reason = describeError(error);
  return isServiceBusError(error) && REFUSALS.has(error.code)
    ? new PublishRefusedError(reason)
    : new DependencyUnavailableError("service-bus", reason);
}
