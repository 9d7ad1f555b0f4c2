import type { LogicalEvent } from "./crossCheck";
import type { OutageLog } from "./ports";
import type { Versioned } from "./writePlan";

/**
 * While the store does not answer, Event Grid's deliveries are refused (the endpoint answers 503,
 * the trigger fails, the queue intake abandons its message), and Event Grid retries each of them
 * on its schedule: the longer the refusals last, the longer after the store is back its next
 * retry comes. A webhook recorded just before the store went down waits for a twin that comes
 * only on such a retry; its window must not close (as `webhook-only`, resolved as a late twin
 * minutes or hours later: an alert opened and closed for nothing) before that retry is due.
 *
 * The bridge learns of an outage from the refusals themselves: each is noted on the journal (a
 * `RefusalNotice`, durable while the store is down, whichever instance refused), and the
 * reconcile that restores the notice once the store answers keeps the outage in the store
 * (`OutageLog`), from the refusal to the restore.
 */

/** A time the store did not answer Event Grid: from a refusal to a moment it answered again. */
export interface StoreOutage {
  from: number;
  to: number;
}

/** On the journal: an Event Grid delivery was refused at `refusedAt`, the store not answering. */
export interface RefusalNotice {
  refusedAt: number;
}

/**
 * Event Grid's retry schedule, the wait before each retry of a delivery
 * (https://learn.microsoft.com/azure/event-grid/delivery-and-retry): 10 s, 30 s, 1 min, 5 min,
 * 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h until the event's 24 h are over.
 */
export const EVENT_GRID_RETRY_DELAYS_MS = [
  10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000,
  43_200_000,
] as const;

/**
 * The longest Event Grid may wait before it retries a delivery refused for `refusedForMs`: the
 * wait before the retry due at that point of its schedule (a delivery refused for less long is at
 * an earlier, shorter step).
 */
export function eventGridRetryWaitMs(refusedForMs: number): number {
  let elapsed = 0;
  for (const delay of EVENT_GRID_RETRY_DELAYS_MS) {
    elapsed += delay;
    if (elapsed >= refusedForMs) return delay;
  }
  return EVENT_GRID_RETRY_DELAYS_MS[EVENT_GRID_RETRY_DELAYS_MS.length - 1];
}

/**
 * Until when a window the outage overlapped waits: Event Grid's next retry after the outage, and a
 * whole window after it (retries are randomised a little, and take their time to arrive).
 */
export function retriedBy(outage: StoreOutage, windowMs: number): number {
  return outage.to + eventGridRetryWaitMs(outage.to - outage.from) + windowMs;
}

/**
 * For a window only the webhook saw: until when it must wait for its twin, when it was open
 * during an outage (Event Grid's delivery of the twin may have been refused then), else undefined.
 */
export function twinRetriedBy(
  logical: Pick<LogicalEvent, "firstSeenAt" | "windowClosesAt">,
  outages: readonly StoreOutage[],
  windowMs: number,
): number | undefined {
  let until: number | undefined;
  for (const outage of outages) {
    if (logical.firstSeenAt > outage.to || logical.windowClosesAt < outage.from) continue;
    until = Math.max(until ?? 0, retriedBy(outage, windowMs));
  }
  return until;
}

/** Outages kept at most; past it the oldest two are kept as one span covering both. */
export const MAX_OUTAGES_KEPT = 100;

/**
 * The outages to keep once `outage` is added: those that overlap merged into one, those no window
 * waits for any more (`retriedBy` past) dropped, oldest first.
 */
export function withOutage(
  kept: readonly StoreOutage[],
  outage: StoreOutage,
  now: number,
  windowMs: number,
): StoreOutage[] {
  const sorted = [...kept, outage]
    .filter((span) => retriedBy(span, windowMs) > now)
    .sort((a, b) => a.from - b.from);
  const merged: StoreOutage[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last && span.from <= last.to) last.to = Math.max(last.to, span.to);
    else merged.push({ ...span });
  }
  while (merged.length > MAX_OUTAGES_KEPT) {
    const [first, second] = merged.splice(0, 2);
    merged.unshift({ from: first.from, to: Math.max(first.to, second.to) });
  }
  return merged;
}

/** Whether a refusal at `at` is within an outage kept: keeping it again changes nothing. */
export function isKept(kept: readonly StoreOutage[], at: number): boolean {
  return kept.some((outage) => outage.from <= at && at <= outage.to);
}

/** Attempts of one run to keep an outage against other runs keeping theirs at the same moment. */
const MAX_KEEP_ATTEMPTS = 10;

/**
 * A reconcile run's view of the outages kept: read at its first need, and updated by the outages
 * the run keeps, so that a run reads them once whatever it closes.
 */
export class KeptOutages {
  private kept?: Promise<Versioned<StoreOutage[]> | undefined>;

  constructor(
    private readonly log: OutageLog,
    private readonly windowMs: number,
  ) {}

  async current(): Promise<StoreOutage[]> {
    return (await this.read())?.value ?? [];
  }

  /** Keeps the outage a refusal notice restored at `now` tells of: from the refusal to now. */
  async keep({ refusedAt }: RefusalNotice, now: number): Promise<void> {
    for (let attempt = 1; attempt <= MAX_KEEP_ATTEMPTS; attempt++) {
      const kept = await this.read();
      if (isKept(kept?.value ?? [], refusedAt)) return;
      const outages = withOutage(
        kept?.value ?? [],
        { from: refusedAt, to: now },
        now,
        this.windowMs,
      );
      const written = await this.log.write(outages, kept?.version);
      if (written.ok) {
        this.kept = Promise.resolve({ value: outages, version: written.value });
        return;
      }
      // Another run kept one meanwhile: read again.
      this.kept = undefined;
    }
    throw new Error(`outages: still changed by others after ${MAX_KEEP_ATTEMPTS} attempts`);
  }

  private read(): Promise<Versioned<StoreOutage[]> | undefined> {
    if (!this.kept) {
      const reading = this.log.read();
      // A failed read is not remembered: the next need reads again.
      reading.catch(() => {
        if (this.kept === reading) this.kept = undefined;
      });
      this.kept = reading;
    }
    return this.kept;
  }
}
