import type { CrossCheckState, LogicalEvent } from "./crossCheck";
import type { DeliveryRecord, NewDelivery } from "./deliveryRecord";
import type { Discrepancy } from "./discrepancy";
import type { EventOrigin, RegistryEvent } from "./registryEvent";
import type { TopicMessage } from "./topicMessage";

export type RecordOutcome =
  | { kind: "created"; record: DeliveryRecord }
  | { kind: "duplicate"; record: DeliveryRecord };

/** Durable record of every delivery; implemented on Table Storage in adapters/. */
export interface EventStore {
  /** Idempotent on the event: a repeat delivery counts an arrival and creates nothing. */
  recordDelivery(delivery: NewDelivery): Promise<RecordOutcome>;
  markPublished(event: RegistryEvent, topic: string): Promise<void>;
  markPublishFailed(
    event: RegistryEvent,
    error: string,
    at: number,
    occurrence?: number,
  ): Promise<void>;
  /** The re-drive gave up: the record leaves the pending list, visibly, with its reason. */
  markDead(event: RegistryEvent, error: string): Promise<void>;
  /**
   * Up to `limit` pending records that `isDue` accepts, oldest first; records still backing off are
   * passed over (so they cannot starve newer ones), reading at most a bounded number of markers.
   */
  listPending(limit: number, isDue: (record: DeliveryRecord) => boolean): Promise<DeliveryRecord[]>;
  /**
   * Takes a pending record for one re-drive attempt when `isDue` says so, by a conditional write
   * of `lastAttemptAt`: of two concurrent reconcile runs only one gets it; undefined for the other.
   */
  claimRedrive(
    event: RegistryEvent,
    now: number,
    isDue: (record: DeliveryRecord) => boolean,
  ): Promise<DeliveryRecord | undefined>;
  find(event: RegistryEvent): Promise<DeliveryRecord | undefined>;
  setCrossCheck(event: RegistryEvent, state: CrossCheckState): Promise<void>;
}

/** Logical events, their open windows, and the event-id index; on Table Storage in adapters/. */
export interface CrossCheckStore {
  /** Adds the arrival to its logical event (opening a window for a new one) and flags id mismatches. */
  noteArrival(event: RegistryEvent, arrivedAt: number, windowMs: number): Promise<LogicalEvent>;
  /** Indexes an arrival by its event id only, for events that have no twin (ping, quarantine). */
  indexArrival(event: RegistryEvent): Promise<void>;
  /**
   * Sets `publishedBy` unless already set, on that occurrence only (a newer one is not covered). Two sides publishing at once is harmless: both send the
   * same message id, and Service Bus duplicate detection keeps one.
   */
  markPublishedBy(key: string, origin: EventOrigin, occurrence: number): Promise<void>;
  dueWindows(now: number, limit: number): Promise<LogicalEvent[]>;
  /** Takes a due window for closing until `now + leaseMs` by a conditional write; false if taken. */
  claimWindow(logical: LogicalEvent, now: number, leaseMs: number): Promise<boolean>;
  /** The first recorded arrival of one side, to publish from or to mark. */
  arrivalsOf(logical: LogicalEvent, origin: EventOrigin): Promise<RegistryEvent[]>;
  closeWindow(logical: LogicalEvent, state: Exclude<CrossCheckState, "open">): Promise<void>;
}

export interface FindingStore {
  record(finding: Discrepancy): Promise<void>;
}

/** Which tags the bridge last saw pushed for a digest, to enrich deletes (which carry none). */
export interface TagMemory {
  remember(event: RegistryEvent): Promise<void>;
  tagsOf(event: RegistryEvent): Promise<string[]>;
}

export interface Publisher {
  publish(topic: string, message: TopicMessage): Promise<void>;
}

/** A dependency that did not answer: the only reason a delivery may get a 5xx. */
export class DependencyUnavailableError extends Error {
  override readonly name = "DependencyUnavailableError";
  constructor(
    readonly dependency: "table-storage" | "service-bus",
    readonly reason: string,
  ) {
    super(`${dependency} unavailable: ${reason}`);
  }
}

/** An Event Grid event refused as not genuine: counted, never recorded as an event. */
export interface Rejection {
  envelopeId: string;
  type: string;
  source?: string;
  reason: string;
  at: number;
}

export interface RejectionLog {
  record(rejection: Rejection): Promise<void>;
}

/** A delivery kept on Service Bus while Table Storage is down, to be recorded when it is back. */
export interface JournalEntry {
  delivery: NewDelivery;
  /** Whether the delivery already reached its topic. */
  published: boolean;
}

export interface Journal {
  append(entry: JournalEntry): Promise<void>;
  /** Hands each waiting entry to `restore`; an entry whose restore throws stays for the next run. */
  drain(restore: (entry: JournalEntry) => Promise<void>, limit: number): Promise<number>;
}
