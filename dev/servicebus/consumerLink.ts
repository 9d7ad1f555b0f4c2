import { randomBytes } from "node:crypto";
import { type Delivery, type Sender, string_to_uuid } from "rhea";
import {
  type Consumer,
  LOCK_LOST,
  type MessageQueue,
  type ReceiveMode,
  type Settlement,
} from "./messageQueue";
import {
  answerEveryDrain,
  creditLimit,
  isDraining,
  outgoingSlots,
  rejectedOutcome,
} from "./rheaInternals";

export type Outcome = "accepted" | "rejected" | "modified" | "released";

const DEFER_NOT_SUPPORTED = {
  condition: "amqp:not-implemented",
  description: "Deferring messages is not supported by the local broker.",
};

/** The SDK turns the delivery tag into the lock token reading it in .NET GUID byte order. */
export function lockTokenTag(lockToken: string): Buffer {
  const bytes = string_to_uuid(lockToken);
  return Buffer.from([
    bytes[3],
    bytes[2],
    bytes[1],
    bytes[0],
    bytes[5],
    bytes[4],
    bytes[7],
    bytes[6],
    ...bytes.subarray(8),
  ]);
}

function settlementFor(outcome: Outcome, state: Delivery["remote_state"]): Settlement | undefined {
  switch (outcome) {
    case "accepted":
      return { outcome: "complete" };
    case "released":
      return { outcome: "abandon", propertiesToModify: {} };
    case "modified":
      // undeliverable-here is how the SDK asks to defer a message.
      if (state?.undeliverable_here) return undefined;
      return { outcome: "abandon", propertiesToModify: state?.message_annotations ?? {} };
    case "rejected":
      return { outcome: "deadLetter", propertiesToModify: state?.error?.info ?? {} };
  }
}

/** A receive link attached to a queue, subscription or dead-letter queue. */
export class ConsumerLink implements Consumer {
  // Transfers queued on the link plus credit handed back by drains: compared with what the
  // receiver granted, it says how many more messages the link may carry.
  private handedOut = 0;
  private readonly lockTokens = new WeakMap<Delivery, string>();

  constructor(
    readonly sender: Sender,
    private readonly queue: MessageQueue,
    readonly receiveMode: ReceiveMode,
  ) {
    answerEveryDrain(sender, (credit) => {
      this.handedOut += credit;
    });
  }

  capacity(): number {
    if (!this.sender.is_open()) return 0;
    return Math.min(creditLimit(this.sender) - this.handedOut, outgoingSlots(this.sender));
  }

  deliver(payload: Buffer, lockToken: string | undefined): void {
    const tag = lockToken === undefined ? randomBytes(16) : lockTokenTag(lockToken);
    const delivery = this.sender.send(payload, tag, 0);
    this.handedOut += 1;
    if (lockToken !== undefined) this.lockTokens.set(delivery, lockToken);
  }

  /** The session has room again for deliveries that were waiting for it. */
  onSendable(): void {
    this.queue.pump();
  }

  /** The receiver changed its credit: deliver what is waiting and, if it asked, report drained. */
  onFlow(): void {
    this.queue.pump();
    if (isDraining(this.sender)) this.sender.set_drained(true);
  }

  /** The receiver settled a peek-locked delivery; it waits for the final outcome in return. */
  onOutcome(delivery: Delivery, outcome: Outcome): void {
    const lockToken = this.lockTokens.get(delivery);
    if (lockToken === undefined) return;
    this.lockTokens.delete(delivery);
    const settlement = settlementFor(outcome, delivery.remote_state);
    if (settlement === undefined) {
      delivery.update(true, rejectedOutcome(DEFER_NOT_SUPPORTED));
    } else if (this.queue.settle(lockToken, settlement)) {
      // Echo the outcome, but without the dead-letter error: the SDK reads any error in the
      // final outcome as a failed settlement. (Only the described form of the decoded outcome
      // encodes back to it.)
      delivery.update(
        true,
        outcome === "rejected" ? rejectedOutcome() : delivery.remote_state?.described(),
      );
    } else {
      delivery.update(true, rejectedOutcome(LOCK_LOST));
    }
  }

  detach(): void {
    this.queue.detach(this);
  }
}
