import { randomUUID } from "node:crypto";
import { shortHash } from "../core/shortHash";

/** A process notes a minute's refusals once, unless the store answers it in between. */
const NOTICE_MS = 60_000;

/**
 * Notices one process sends in a minute at most. Storage that answers and fails over and over
 * (throttled) would otherwise cost a notice a refusal; past the cap, the rest of the minute goes
 * unnoted by this process, and the next minute's notice covers what follows.
 */
export const MAX_NOTICES_PER_MINUTE = 4;

interface LatestNotice {
  minute: number;
  /** Which notice of its minute this process sent: 0 for the first. */
  ordinal: number;
  messageId: string;
  /** What a later refusal of the same minute needs. */
  nextInMinute: "nothing" | "resend" | "another";
}

/**
 * Which of this process's refusals are noted on the journal, and under which message id: one a
 * minute, and another in the same minute once the store answered this process again, since the
 * reconcile may have restored the minute's notice meanwhile and the refusal begins another outage.
 * The id names the process: another process's notice of the same minute may tell of another
 * outage, which duplicate detection must not drop for it. A process the store did not answer
 * between two outages of one minute (it had no delivery then) notes the second from the next
 * minute on, or another process that did answer notes it.
 */
export class RefusalNotices {
  private readonly process = randomUUID();
  private latest?: LatestNotice;

  /** The message id to note a refusal at `refusedAt` under; undefined when one sent tells of it. */
  messageIdFor(refusedAt: number): string | undefined {
    const minute = Math.floor(refusedAt / NOTICE_MS);
    let ordinal = 0;
    if (this.latest?.minute === minute) {
      const { nextInMinute } = this.latest;
      if (nextInMinute === "nothing") return undefined;
      ordinal = nextInMinute === "resend" ? this.latest.ordinal : this.latest.ordinal + 1;
      if (ordinal >= MAX_NOTICES_PER_MINUTE) return undefined;
    }
    const messageId = shortHash([
      "journal",
      "refused",
      this.process,
      String(minute),
      String(ordinal),
    ]);
    this.latest = { minute, ordinal, messageId, nextInMinute: "nothing" };
    return messageId;
  }

  storeAnswered(): void {
    if (this.latest?.nextInMinute === "nothing") this.latest.nextInMinute = "another";
  }

  /** The notice was not sent: the next refusal of its minute sends it. */
  notSent(messageId: string): void {
    if (this.latest?.messageId === messageId) this.latest.nextInMinute = "resend";
  }
}
