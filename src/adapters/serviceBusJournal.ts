import type { ServiceBusClient, ServiceBusReceiver, ServiceBusSender } from "@azure/service-bus";
import Long from "long";
import { describeError } from "../core/describeError";
import {
  isJournaledDelivery,
  type Journal,
  type JournalDrained,
  type JournalEntry,
  type JournaledDelivery,
  type SetAside,
} from "../core/ports";
import { shortHash } from "../core/shortHash";
import { RefusalNotices } from "./refusalNotices";
import { closeInBackground } from "./serviceBusLinks";

/** Journal entries received at once after the first. */
const RECEIVE_BATCH = 32;

/** The `DeadLetterReason` of an entry set aside, by its cause: on the queue's dead-letter queue. */
export const SET_ASIDE_REASONS: Record<SetAside["cause"], string> = {
  refused: "RestoreRefused",
  failing: "RestoreFailed",
};

/** A dead-letter description is kept short; the reconcile's log has the whole reason. */
const MAX_DESCRIPTION_CHARS = 1_024;

/**
 * The journal is a Service Bus queue: durable while Table Storage is down, and drained by the
 * reconcile. A delivery's message id is its arrival's (the event, its arrival time and region,
 * which tell one arrival from another on a record): a send retried by the SDK is dropped by
 * duplicate detection, while a repeated delivery is kept and counted when it is restored.
 * Restoring is idempotent anyway. A refusal notice's is chosen by `RefusalNotices`: a few a
 * minute per process at most.
 */
export class ServiceBusJournal implements Journal {
  private sender?: ServiceBusSender;
  private readonly notices = new RefusalNotices();

  constructor(
    private readonly client: ServiceBusClient,
    private readonly queue: string,
    private readonly timeoutMs: number,
  ) {}

  async append(entry: JournalEntry): Promise<void> {
    if (isJournaledDelivery(entry)) return this.send(deliveryMessageId(entry), entry);
    const messageId = this.notices.messageIdFor(entry.refusedAt);
    if (messageId === undefined) return;
    try {
      await this.send(messageId, entry);
    } catch (error) {
      this.notices.notSent(messageId);
      throw error;
    }
  }

  storeAnswered(): void {
    this.notices.storeAnswered();
  }

  private async send(messageId: string, entry: JournalEntry): Promise<void> {
    this.sender ??= this.client.createSender(this.queue);
    const sender = this.sender;
    try {
      await sender.sendMessages(
        { messageId, contentType: "application/json", body: entry },
        { abortSignal: AbortSignal.timeout(this.timeoutMs) },
      );
    } catch (error) {
      this.sender = undefined;
      closeInBackground(sender);
      throw error;
    }
  }

  async drain(
    restore: (entry: JournalEntry, failedBefore: number) => Promise<SetAside | undefined>,
    limit: number,
    stop: () => boolean = () => false,
  ): Promise<JournalDrained> {
    const receiver = this.client.createReceiver(this.queue);
    const drained = { restored: 0, setAside: 0 };
    const taken = () => drained.restored + drained.setAside;
    try {
      // Peeking first keeps an empty journal from costing a receive's wait on every run.
      if (!(await anyLeft(receiver))) return { ...drained, more: false };
      // One entry first: while storage is still down it fails alone, and the rest of the journal
      // is not handed out (each hand-out counts toward the queue's max delivery count). Then a
      // batch at a time, each taken only while the run has time for it: what is taken is
      // restored, never handed back unread.
      while (taken() < limit) {
        if (stop()) return { ...drained, more: true };
        const batchSize = Math.min(taken() === 0 ? 1 : RECEIVE_BATCH, limit - taken());
        const messages = await receiver.receiveMessages(batchSize, { maxWaitTimeInMs: 1000 });
        for (const [index, message] of messages.entries()) {
          try {
            // The JavaScript SDK gives AMQP's delivery count: 0 the first time a message is
            // handed out (.NET adds one), 1 after it was abandoned once.
            const outcome = await restore(message.body as JournalEntry, message.deliveryCount ?? 0);
            this.storeAnswered();
            if (outcome) {
              await receiver.deadLetterMessage(message, {
                deadLetterReason: SET_ASIDE_REASONS[outcome.cause],
                deadLetterErrorDescription: outcome.setAside.slice(0, MAX_DESCRIPTION_CHARS),
              });
              drained.setAside++;
            } else {
              await receiver.completeMessage(message);
              drained.restored++;
            }
          } catch (error) {
            await Promise.all(
              messages
                .slice(index)
                .map((left) => receiver.abandonMessage(left).catch(() => undefined)),
            );
            return { ...drained, more: true, failure: describeError(error) };
          }
        }
        // Fewer than asked for: drained, unless another run holds entries it is restoring.
        if (messages.length < batchSize) return { ...drained, more: await anyLeft(receiver) };
      }
      // The limit reached: the next run's peek tells whether any is left.
      return { ...drained, more: true };
    } finally {
      await receiver.close();
    }
  }

  async close(): Promise<void> {
    await this.sender?.close();
  }
}

function deliveryMessageId(entry: JournaledDelivery): string {
  const { event, receivedAt } = entry.delivery;
  return shortHash([
    "journal",
    event.registry,
    event.eventId,
    event.origin,
    String(receivedAt),
    event.region ?? "",
  ]);
}

/**
 * Whether any entry is on the journal, also one locked by another run. Peeked from its start: a
 * peek goes on after the last message peeked through the same client, so entries a failed
 * restore left (peeked by an earlier run) would be passed over and wait until a newer entry came.
 */
async function anyLeft(receiver: ServiceBusReceiver): Promise<boolean> {
  return (await receiver.peekMessages(1, { fromSequenceNumber: Long.ZERO })).length > 0;
}
