import { DuplicateDetector } from "./duplicateDetector";
import { MessageQueue } from "./messageQueue";
import { Publisher } from "./publisher";
import type { DeliverySettings, Topology } from "./topology";

/** Entity names are case-insensitive on Service Bus. */
const key = (path: string) => path.replace(/^\/+|\/+$/g, "").toLowerCase();

const duplicateDetector = (windowMs: number | undefined) =>
  windowMs === undefined ? undefined : new DuplicateDetector(windowMs);

/** The entities of a topology, found by the AMQP addresses the SDK uses. */
export class Namespace {
  private readonly publishers = new Map<string, Publisher>();
  private readonly queues = new Map<string, MessageQueue>();

  constructor(topology: Topology) {
    for (const queue of topology.queues) {
      const messages = this.addQueue(queue.name, queue);
      const publisher = new Publisher(
        queue.name,
        [{ rules: [], queue: messages }],
        duplicateDetector(queue.duplicateDetectionWindowMs),
      );
      this.publishers.set(key(queue.name), publisher);
    }
    for (const topic of topology.topics) {
      const targets = topic.subscriptions.map((subscription) => ({
        rules: subscription.rules,
        queue: this.addQueue(`${topic.name}/Subscriptions/${subscription.name}`, subscription),
      }));
      const publisher = new Publisher(
        topic.name,
        targets,
        duplicateDetector(topic.duplicateDetectionWindowMs),
      );
      this.publishers.set(key(topic.name), publisher);
    }
  }

  /** The topic or queue a sender's target address names. */
  publisher(address: string): Publisher | undefined {
    return this.publishers.get(key(address));
  }

  /** The subscription, queue or dead-letter queue a receiver's source address names. */
  queue(address: string): MessageQueue | undefined {
    return this.queues.get(key(address));
  }

  /** Send operations received by one topic or queue, or by all of them. */
  sendOperations(address?: string): number {
    if (address !== undefined) return this.publisher(address)?.sendOperations ?? 0;
    let total = 0;
    for (const publisher of this.publishers.values()) total += publisher.sendOperations;
    return total;
  }

  has(address: string): boolean {
    return this.publisher(address) !== undefined || this.queue(address) !== undefined;
  }

  close(): void {
    for (const queue of this.queues.values()) queue.close();
  }

  private addQueue(path: string, settings: DeliverySettings): MessageQueue {
    const queue = new MessageQueue(path, settings);
    this.queues.set(key(path), queue);
    if (queue.deadLetters) this.queues.set(key(queue.deadLetters.path), queue.deadLetters);
    return queue;
  }
}
