import type { LogicalEvent } from "./crossCheck";
import type { DeliveryRecord, NewDelivery } from "./deliveryRecord";
import type { Discrepancy } from "./discrepancy";
import type { EventOrigin, RegistryEvent } from "./registryEvent";
import type { Result } from "./result";
import type { RefusalNotice, StoreOutage } from "./storeOutage";
import type { TopicMessage } from "./topicMessage";
import type {
  Change,
  DigestRef,
  LogicalRef,
  OpenWork,
  TagRef,
  Versioned,
  WriteOptions,
  WriteOutcome,
} from "./writePlan";

/**
 * The durable record of every arrival and its cross-check (implemented in adapters/). Reads
 * return what decisions need; `write` executes decided changes and holds no rule of its own.
 */
export interface EventStore {
  /** The logical events of the event's content: its own, and for a digest every other one of it. */
  relatedLogicals(event: RegistryEvent): Promise<Versioned<LogicalEvent>[]>;
  /** The tags the digest was noted pushed with (`note-digest-tag`), in no order. */
  digestTags(digest: DigestRef): Promise<string[]>;
  /** One logical event as it is now. */
  logicalOf(logical: LogicalRef): Promise<Versioned<LogicalEvent> | undefined>;
  /** The arrival's own record, if this event id and origin were recorded. */
  recordOf(event: RegistryEvent): Promise<Versioned<DeliveryRecord> | undefined>;
  /** Whether the tag was noted as pushed in its repository (`note-tag`). */
  tagSeen(tag: TagRef): Promise<boolean>;
  /**
   * Writes changes; those about one arrival land together or not at all, and concurrent
   * arrivals may share one write. Resolves only once the changes are durable.
   */
  write(changes: readonly Change[], options?: WriteOptions): Promise<WriteOutcome>;
  /**
   * A reconcile run's work, in one read: up to `limits.windows` open windows due at `now`, oldest
   * first, with their logical events as they are now, and records on the pending list, oldest
   * first, reading at most `limits.pending` of them.
   */
  openWork(now: number, limits: { windows: number; pending: number }): Promise<OpenWork>;
  /** The recorded arrivals of one side of a logical event. */
  arrivalsOf(
    logical: LogicalRef,
    eventIds: readonly string[],
    origin: EventOrigin,
  ): Promise<DeliveryRecord[]>;
  /** Every recorded arrival with this event id from one side, whatever its content. */
  arrivalsById(eventId: string, origin: EventOrigin): Promise<DeliveryRecord[]>;
  /** The same for arrivals written with `index-id`, in one read. */
  arrivalsIndexedById(eventId: string, origin: EventOrigin): Promise<DeliveryRecord[]>;
}

export interface FindingStore {
  record(finding: Discrepancy): Promise<void>;
}

/**
 * Throws `DependencyUnavailableError` when the messaging service did not answer, and
 * `PublishRefusedError` when it answered and refused the message.
 */
export interface Publisher {
  publish(topic: string, message: TopicMessage): Promise<void>;
}

/**
 * The messaging service refused the message (its topic missing or disabled, the message too large,
 * sending not allowed): trying again mends nothing until someone changes something, so only such
 * failures bring a re-drive or a recovery to give up. A service that did not answer gives no
 * reason to: its messages wait for it.
 */
export class PublishRefusedError extends Error {
  override readonly name = "PublishRefusedError";
}

/** A dependency that did not answer: the only reason a delivery may get a 5xx. */
export interface DependencyFailure {
  /** As the adapter's users know it, e.g. the Azure service. */
  dependency: string;
  reason: string;
}

/** What a port throws when its dependency did not answer; the core returns it as a value. */
export class DependencyUnavailableError extends Error implements DependencyFailure {
  override readonly name = "DependencyUnavailableError";
  constructor(
    readonly dependency: string,
    readonly reason: string,
    /**
     * The dependency answered, and refused what it was asked for its content (a value it does
     * not accept): asking the same again mends nothing. Like a dependency that did not answer,
     * it fails the work at hand; only work that would otherwise ask again forever tells the two
     * apart.
     */
    readonly refused = false,
  ) {
    super(
      refused
        ? `${dependency} refused: ${reason}`
        : describeDependencyFailure({ dependency, reason }),
    );
  }

  /** The failure thrown again, where the Functions host needs a throw to fail the invocation. */
  static of(failure: DependencyFailure): DependencyUnavailableError {
    return new DependencyUnavailableError(failure.dependency, failure.reason);
  }
}

/** The answer of work that needs a dependency: its value, or the dependency that did not answer. */
export type DependencyResult<T> = Result<T, DependencyFailure>;

/**
 * Runs work on ports and returns a dependency that did not answer as a value. Any other error is
 * a bug and propagates.
 */
export async function whenAvailable<T>(work: () => Promise<T>): Promise<DependencyResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (!(error instanceof DependencyUnavailableError)) throw error;
    return { ok: false, failure: { dependency: error.dependency, reason: error.reason } };
  }
}

/** One line for logs and warnings: the message of the error a port throws for it. */
export function describeDependencyFailure(failure: DependencyFailure): string {
  return `${failure.dependency} unavailable: ${failure.reason}`;
}

/** An Event Grid event refused as not genuine: counted, never recorded as an event. */
export interface Rejection {
  envelopeId: string;
  type: string;
  source?: string;
  /** The host that named another registry than the source. */
  host?: string;
  reason: string;
  at: number;
}

export interface RejectionLog {
  record(rejection: Rejection): Promise<void>;
}

/** A delivery kept on the journal while the store is down, to be recorded when it is back. */
export interface JournaledDelivery {
  delivery: NewDelivery;
  /** Whether the delivery already reached its topic. */
  published: boolean;
}

/**
 * What the journal keeps while the store is down: a webhook's delivery, or the notice that an Event
 * Grid delivery was refused (see `storeOutage`).
 */
export type JournalEntry = JournaledDelivery | RefusalNotice;

export function isJournaledDelivery(entry: JournalEntry): entry is JournaledDelivery {
  return "delivery" in entry;
}

export interface Journal {
  append(entry: JournalEntry): Promise<void>;
  /**
   * The store answered this process: a refusal after it may begin another outage, so it is
   * noted even when its moment's refusals were noted already.
   */
  storeAnswered(): void;
  /**
   * Hands each waiting entry to `restore` with the number of times it was handed out before and
   * not restored, at most `limit` entries; an entry whose restore throws stays for the next run,
   * one `restore` sets aside leaves the journal for a place an operator can read it from. `stop`
   * is asked before each batch it takes: true leaves the rest.
   */
  drain(
    restore: (entry: JournalEntry, failedBefore: number) => Promise<SetAside | undefined>,
    limit: number,
    stop?: () => boolean,
  ): Promise<JournalDrained>;
}

/** A journal entry that will never be restored, and why: it must not hold the entries after it. */
export interface SetAside {
  /**
   * `refused`: storage refuses what it holds. `failing`: its restore failed for a reason of the
   * bridge's own (not a dependency not answering) every time it was taken.
   */
  cause: "refused" | "failing";
  setAside: string;
}

export interface JournalDrained {
  restored: number;
  /** Entries set aside by `restore`. */
  setAside: number;
  /** Entries may be left for the next run (the limit was reached, or a restore failed). */
  more: boolean;
  /** Why an entry could not be restored: it waits on the journal for the next run. */
  failure?: string;
}

/** The outages kept for the cross-check (see `storeOutage`): one list, written whole. */
export interface OutageLog {
  /** The outages as last written; undefined when none ever was. */
  read(): Promise<Versioned<StoreOutage[]> | undefined>;
  /**
   * Writes the list over the one read at `version` (undefined: there was none), and only over
   * that; its new version, or `changed` when another writer wrote it meanwhile.
   */
  write(
    outages: readonly StoreOutage[],
    version: string | undefined,
  ): Promise<Result<string, "changed">>;
}
