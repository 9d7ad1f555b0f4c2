import { BrokeredMessage, type MessageContent } from "./brokeredMessage";
import type { DuplicateDetector } from "./duplicateDetector";
import type { MessageQueue } from "./messageQueue";
import { subscriptionAccepts } from "./subscriptionFilter";
import type { SubscriptionRule } from "./topology";

export interface PublishTarget {
  rules: SubscriptionRule[];
  queue: MessageQueue;
}

export interface PublishResult {
  accepted: number;
  duplicates: number;
}

/**
 * The sending side of a topic or queue: drops duplicates, numbers messages and gives each
 * matching target its own copy. A queue is a single target without rules.
 */
export class EntityFanOut {
  private nextSequenceNumber = 1;
  /** Transfers received from senders: a batch or an array send is one operation. */
  private sends = 0;

  constructor(
    readonly path: string,
    private readonly targets: PublishTarget[],
    private readonly duplicates: DuplicateDetector | undefined,
  ) {}

  /** A subscription created while the broker runs (through the administration endpoint). */
  addTarget(target: PublishTarget): void {
    this.targets.push(target);
  }

  removeTarget(queue: MessageQueue): void {
    const index = this.targets.findIndex((target) => target.queue === queue);
    if (index >= 0) this.targets.splice(index, 1);
  }

  /** Send operations so far, for benchmarks that count what a client costs the broker. */
  get sendOperations(): number {
    return this.sends;
  }

  /** Publishes what one transfer carried (one message, or the messages of a batch). */
  publish(contents: MessageContent[], now: number): PublishResult {
    this.sends += 1;
    const result = { accepted: 0, duplicates: 0 };
    for (const content of contents) {
      // Azure accepts a duplicate from the sender and silently drops it.
      if (this.duplicates?.isDuplicate(content.system.messageId, now)) {
        result.duplicates += 1;
        continue;
      }
      const message = new BrokeredMessage(content, this.nextSequenceNumber++, now);
      for (const target of this.targets) {
        if (subscriptionAccepts(target.rules, message)) target.queue.enqueue(message);
      }
      result.accepted += 1;
    }
    return result;
  }
}
