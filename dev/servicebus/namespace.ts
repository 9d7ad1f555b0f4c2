import { DuplicateDetector } from "./duplicateDetector";
import { EntityFanOut } from "./entityFanOut";
import { MessageQueue } from "./messageQueue";
import type { DeliverySettings, SubscriptionRule, Topology } from "./topology";

/** Entity names are case-insensitive on Service Bus. */
const key = (path: string) => path.replace(/^\/+|\/+$/g, "").toLowerCase();

const duplicateDetector = (windowMs: number | undefined) =>
  windowMs === undefined ? undefined : new DuplicateDetector(windowMs);

const subscriptionPath = (topic: string, subscription: string) =>
  `${topic}/Subscriptions/${subscription}`;

/** A subscription as the administration endpoint shows and changes it. */
export interface SubscriptionEntity {
  topic: string;
  name: string;
  settings: DeliverySettings;
  /** Changed in place: the fan-out reads the same array. */
  rules: SubscriptionRule[];
  queue: MessageQueue;
}

/** The entities of a topology, found by the AMQP addresses the SDK uses. */
export class Namespace {
  private readonly fanOuts = new Map<string, EntityFanOut>();
  private readonly queues = new Map<string, MessageQueue>();
  private readonly topicNames = new Map<string, string>();
  private readonly subscriptions = new Map<string, SubscriptionEntity>();

  constructor(topology: Topology) {
    for (const queue of topology.queues) {
      const messages = this.addQueue(queue.name, queue);
      const fanOut = new EntityFanOut(
        queue.name,
        [{ rules: [], queue: messages }],
        duplicateDetector(queue.duplicateDetectionWindowMs),
      );
      this.fanOuts.set(key(queue.name), fanOut);
    }
    for (const topic of topology.topics) {
      const fanOut = new EntityFanOut(
        topic.name,
        [],
        duplicateDetector(topic.duplicateDetectionWindowMs),
      );
      this.fanOuts.set(key(topic.name), fanOut);
      this.topicNames.set(key(topic.name), topic.name);
      for (const subscription of topic.subscriptions) {
        this.createSubscription(topic.name, subscription.name, subscription, subscription.rules);
      }
    }
  }

  /** The topic or queue a sender's target address names. */
  fanOut(address: string): EntityFanOut | undefined {
    return this.fanOuts.get(key(address));
  }

  /** The subscription, queue or dead-letter queue a receiver's source address names. */
  queue(address: string): MessageQueue | undefined {
    return this.queues.get(key(address));
  }

  /** Send operations received by one topic or queue, or by all of them. */
  sendOperations(address?: string): number {
    if (address !== undefined) return this.fanOut(address)?.sendOperations ?? 0;
    let total = 0;
    for (const fanOut of this.fanOuts.values()) total += fanOut.sendOperations;
    return total;
  }

  has(address: string): boolean {
    return this.fanOut(address) !== undefined || this.queue(address) !== undefined;
  }

  /** The topic's name as defined, or undefined when no topic has it. */
  topic(name: string): string | undefined {
    return this.topicNames.get(key(name));
  }

  subscription(topic: string, name: string): SubscriptionEntity | undefined {
    return this.subscriptions.get(key(subscriptionPath(topic, name)));
  }

  subscriptionsOf(topic: string): SubscriptionEntity[] {
    return [...this.subscriptions.values()].filter(
      (subscription) => key(subscription.topic) === key(topic),
    );
  }

  /** Adds a subscription to a topic that exists; it receives what is published from now on. */
  createSubscription(
    topic: string,
    name: string,
    settings: DeliverySettings,
    rules: SubscriptionRule[],
  ): SubscriptionEntity {
    const topicName = this.topic(topic);
    const fanOut = this.fanOut(topic);
    if (topicName === undefined || fanOut === undefined) {
      throw new Error(`The local Service Bus has no topic ${topic}`);
    }
    const path = subscriptionPath(topicName, name);
    const entity = {
      topic: topicName,
      name,
      settings,
      rules,
      queue: this.addQueue(path, settings),
    };
    fanOut.addTarget(entity);
    this.subscriptions.set(key(path), entity);
    return entity;
  }

  deleteSubscription(entity: SubscriptionEntity): void {
    this.fanOut(entity.topic)?.removeTarget(entity.queue);
    this.subscriptions.delete(key(entity.queue.path));
    this.queues.delete(key(entity.queue.path));
    if (entity.queue.deadLetters) this.queues.delete(key(entity.queue.deadLetters.path));
    entity.queue.close();
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
