import { randomUUID } from "node:crypto";
import type { BrokeredMessage } from "./brokeredMessage";
import type { DeliverySettings } from "./topology";

export type ReceiveMode = "peekLock" | "receiveAndDelete";

/** Service Bus's answer to settling or renewing with an unknown or expired lock token. */
export const LOCK_LOST = {
  condition: "com.microsoft:message-lock-lost",
  description:
    "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.",
};

/** A receive link as the queue sees it. */
export interface Consumer {
  readonly receiveMode: ReceiveMode;
  /** How many more messages it can take right now. */
  capacity(): number;
  deliver(payload: Buffer, lockToken: string | undefined): void;
}

/**
 * What a receiver decided for a locked message. The application properties given replace the
 * message's; dead-lettering carries its reason as `DeadLetterReason` and
 * `DeadLetterErrorDescription`.
 */
export type Settlement =
  | { outcome: "complete" }
  | { outcome: "abandon" | "deadLetter"; propertiesToModify: Record<string, unknown> };

export interface QueuedMessage {
  message: BrokeredMessage;
  /** Deliveries so far. */
  deliveryCount: number;
  lockedUntil: number | undefined;
}

interface Entry {
  message: BrokeredMessage;
  deliveryCount: number;
  expiresAt: number;
}

interface Lock {
  entry: Entry;
  lockedUntil: number;
  timer: NodeJS.Timeout;
}

const definedValues = (values: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined && value !== null),
  );

/**
 * The messages of a subscription or queue (or of its dead-letter queue): delivery in sequence
 * order to whichever consumer has credit, peek-locks, settlement, expiry and dead-lettering.
 */
export class MessageQueue {
  /** Undefined for a dead-letter queue, whose messages never expire nor move on. */
  readonly deadLetters: MessageQueue | undefined;
  private readonly available: Entry[] = [];
  private readonly locks = new Map<string, Lock>();
  private readonly consumers: Consumer[] = [];
  private nextConsumer = 0;

  constructor(
    readonly path: string,
    private readonly settings: DeliverySettings,
    role: "active" | "deadLetter" = "active",
  ) {
    this.deadLetters =
      role === "active"
        ? new MessageQueue(
            `${path}/$DeadLetterQueue`,
            {
              ...settings,
              maxDeliveryCount: Number.POSITIVE_INFINITY,
              defaultMessageTimeToLiveMs: Number.POSITIVE_INFINITY,
            },
            "deadLetter",
          )
        : undefined;
  }

  enqueue(message: BrokeredMessage, deliveryCount = 0): void {
    const timeToLive = Math.min(
      message.content.timeToLiveMs ?? Number.POSITIVE_INFINITY,
      this.settings.defaultMessageTimeToLiveMs,
    );
    const expiresAt = this.deadLetters
      ? message.enqueuedTime + timeToLive
      : Number.POSITIVE_INFINITY;
    this.makeAvailable({ message, deliveryCount, expiresAt });
  }

  attach(consumer: Consumer): void {
    this.consumers.push(consumer);
    this.pump();
  }

  detach(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) this.consumers.splice(index, 1);
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** Hands available messages to consumers with credit, round robin. */
  pump(): void {
    const now = Date.now();
    for (
      let consumer = this.consumerWithCapacity();
      consumer;
      consumer = this.consumerWithCapacity()
    ) {
      const entry = this.available.shift();
      if (entry === undefined) return;
      if (entry.expiresAt <= now) this.expire(entry);
      else this.deliver(consumer, entry, now);
    }
  }

  /** Applies a settlement to a locked message; false when the lock is unknown or has expired. */
  settle(lockToken: string, settlement: Settlement): boolean {
    const lock = this.takeLock(lockToken);
    if (lock === undefined) return false;
    if (settlement.outcome === "abandon") {
      this.release(this.modified(lock.entry, settlement.propertiesToModify));
    } else if (settlement.outcome === "deadLetter") {
      this.deadLetter(lock.entry, settlement.propertiesToModify);
    }
    return true;
  }

  /** Extends a valid lock by the lock duration; returns the new expiry, undefined when lost. */
  renewLock(lockToken: string): number | undefined {
    const lock = this.locks.get(lockToken);
    if (lock === undefined || lock.lockedUntil <= Date.now()) return undefined;
    clearTimeout(lock.timer);
    const renewed = this.lock(lockToken, lock.entry, Date.now());
    return renewed.lockedUntil;
  }

  /** Active messages, available or locked, in sequence order. */
  messages(): QueuedMessage[] {
    this.dropExpired(Date.now());
    const available = this.available.map(({ message, deliveryCount }) => ({
      message,
      deliveryCount,
      lockedUntil: undefined,
    }));
    const locked = [...this.locks.values()].map(({ entry, lockedUntil }) => ({
      message: entry.message,
      deliveryCount: entry.deliveryCount,
      lockedUntil,
    }));
    return [...available, ...locked].sort(
      (a, b) => a.message.sequenceNumber - b.message.sequenceNumber,
    );
  }

  /** Stops every lock timer, here and in the dead-letter queue. */
  close(): void {
    for (const lock of this.locks.values()) clearTimeout(lock.timer);
    this.locks.clear();
    this.deadLetters?.close();
  }

  private consumerWithCapacity(): Consumer | undefined {
    for (let tried = 0; tried < this.consumers.length; tried++) {
      const index = (this.nextConsumer + tried) % this.consumers.length;
      const consumer = this.consumers[index];
      if (consumer.capacity() > 0) {
        this.nextConsumer = (index + 1) % this.consumers.length;
        return consumer;
      }
    }
    return undefined;
  }

  private deliver(consumer: Consumer, entry: Entry, now: number): void {
    if (consumer.receiveMode === "receiveAndDelete") {
      consumer.deliver(entry.message.encode({ deliveryCount: entry.deliveryCount }), undefined);
      return;
    }
    const lockToken = randomUUID();
    const { lockedUntil } = this.lock(lockToken, entry, now);
    const payload = entry.message.encode({ deliveryCount: entry.deliveryCount, lockedUntil });
    entry.deliveryCount += 1;
    consumer.deliver(payload, lockToken);
  }

  private lock(lockToken: string, entry: Entry, now: number): Lock {
    const timer = setTimeout(() => {
      const lock = this.locks.get(lockToken);
      if (lock === undefined) return;
      this.locks.delete(lockToken);
      this.release(lock.entry);
    }, this.settings.lockDurationMs);
    timer.unref();
    const lock = { entry, lockedUntil: now + this.settings.lockDurationMs, timer };
    this.locks.set(lockToken, lock);
    return lock;
  }

  private takeLock(lockToken: string): Lock | undefined {
    const lock = this.locks.get(lockToken);
    if (lock === undefined || lock.lockedUntil <= Date.now()) return undefined;
    clearTimeout(lock.timer);
    this.locks.delete(lockToken);
    return lock;
  }

  /** Back to the queue after abandon or lock expiry, unless it has used up its deliveries. */
  private release(entry: Entry): void {
    if (entry.deliveryCount >= this.settings.maxDeliveryCount) {
      this.deadLetter(entry, {
        DeadLetterReason: "MaxDeliveryCountExceeded",
        DeadLetterErrorDescription: `Message could not be consumed after ${this.settings.maxDeliveryCount} delivery attempts.`,
      });
    } else {
      this.makeAvailable(entry);
    }
  }

  private deadLetter(entry: Entry, changes: Record<string, unknown>): void {
    if (this.deadLetters === undefined) {
      // Service Bus keeps a message that is dead-lettered again in its dead-letter queue.
      this.makeAvailable(entry);
      return;
    }
    const dead = this.modified(entry, changes);
    this.deadLetters.enqueue(dead.message, dead.deliveryCount);
  }

  private expire(entry: Entry): void {
    if (this.settings.deadLetteringOnMessageExpiration) {
      this.deadLetter(entry, {
        DeadLetterReason: "TTLExpiredException",
        DeadLetterErrorDescription: "The message expired and was dead lettered.",
      });
    }
  }

  private dropExpired(now: number): void {
    const expired = this.available.filter((entry) => entry.expiresAt <= now);
    if (expired.length === 0) return;
    this.available.splice(
      0,
      this.available.length,
      ...this.available.filter((entry) => entry.expiresAt > now),
    );
    for (const entry of expired) this.expire(entry);
  }

  private modified(entry: Entry, changes: Record<string, unknown>): Entry {
    const defined = definedValues(changes);
    if (Object.keys(defined).length === 0) return entry;
    return { ...entry, message: entry.message.withApplicationProperties(defined) };
  }

  /** Keeps sequence order: new messages go last, abandoned ones back to where they were. */
  private makeAvailable(entry: Entry): void {
    const sequenceNumber = entry.message.sequenceNumber;
    const last = this.available.at(-1);
    const index =
      last === undefined || last.message.sequenceNumber < sequenceNumber
        ? this.available.length
        : this.available.findIndex((queued) => queued.message.sequenceNumber > sequenceNumber);
    this.available.splice(index, 0, entry);
    this.pump();
  }
}
