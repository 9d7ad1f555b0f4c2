import type { LogicalEvent, Verdict } from "./crossCheck";
import type { DeliveryRecord, RecordStatus } from "./deliveryRecord";
import type { EventOrigin, RegistryEvent } from "./registryEvent";
import type { Result } from "./result";

/** A value as the store last returned it; a change that names the version fails if it moved on. */
export interface Versioned<T> {
  value: T;
  version: string;
}

/**
 * A finding written at the version it was read: its new version, or `changed` when another run
 * wrote it since (and publishes its own change).
 */
export type FindingWrite = Result<string, "changed">;

/** Which side put a logical event's occurrence on its topic. */
export interface Publication {
  by: EventOrigin;
  occurrence: number;
}

/**
 * One change a decision makes. Changes about one arrival (its record, its logical event, their
 * markers) are written together or not at all; `create-*` and versioned changes fail the whole
 * plan with a conflict when the store has moved on, so the decision is taken again on fresh state.
 */
export type Change =
  /** Fails when the arrival (event id and origin) was recorded before. */
  | { kind: "create-record"; record: DeliveryRecord }
  | { kind: "replace-record"; record: DeliveryRecord; version: string }
  /** Overwrites only the given status fields, whatever the record's version. */
  | { kind: "set-record-status"; record: DeliveryRecord; status: Partial<RecordStatus> }
  /** Makes the arrival findable by its event id; fails when this id and origin were recorded. */
  | { kind: "index-arrival"; record: DeliveryRecord; logicalKey: string }
  /**
   * Makes the arrival findable by its event id alone, whatever its content: `arrivalsIndexedById`
   * then finds it in one read. Written before the plan's other changes and not undone when they
   * fail, so no recorded arrival lacks it; what it names without a record is never returned.
   */
  | { kind: "index-id"; record: DeliveryRecord }
  /** Fails when the content already has a logical event. */
  | { kind: "create-logical"; logical: LogicalEvent }
  | { kind: "replace-logical"; logical: LogicalEvent; version: string }
  /** Overwrites only the publication, whatever the logical event's version. */
  | { kind: "set-publication"; logical: LogicalRef; publication: Publication }
  | { kind: "open-window"; window: WindowMarker }
  | { kind: "close-window"; window: WindowMarker }
  /** Kept for statistics over a time range: one per closed window. */
  | { kind: "log-verdict"; logical: LogicalEvent; state: Verdict }
  | { kind: "add-pending"; record: DeliveryRecord }
  /** Nothing happens if the record is no longer on the pending list. */
  | { kind: "remove-pending"; record: DeliveryRecord }
  /** Remembers that the tag was pushed in its repository, whatever was noted before. */
  | { kind: "note-tag"; tag: TagRef }
  /** Remembers that the tag was pushed with the digest, with the digest's other tags. */
  | { kind: "note-digest-tag"; digest: DigestRef; tag: string };

export interface WriteOptions {
  /**
   * Bookkeeping that no answer waits for (a record marked published): the store may hold it a
   * moment so that it goes with the next write, instead of costing a round trip of its own.
   */
  lazy?: boolean;
}

/** A plan that was not written because the store moved on: which change found it so. */
export type WriteOutcome = Result<void, Change["kind"]>;

/**
 * What the store knows that an arrival's decision needs, read in one go. What was not read is
 * taken as absent: a decision that assumed so fails its write, and is taken again on a full read.
 */
export interface ArrivalState {
  /** The arrival itself, when this event id and origin were recorded before. */
  recorded?: Versioned<DeliveryRecord>;
  /** The logical event of the arrival's content, when it has one. */
  own?: Versioned<LogicalEvent>;
  /** Whether the base tag of a patch-like tag was pushed before; read only for such tags. */
  baseTagSeen?: boolean;
}

/** A tag of one repository. */
export type TagRef = Pick<RegistryEvent, "registry" | "repository"> & { tag: string };

/** A digest of one repository. */
export type DigestRef = Pick<RegistryEvent, "registry" | "repository"> & { digest: string };

/** What names a logical event in the store. */
export type LogicalRef = Pick<LogicalEvent, "key" | "registry" | "repository" | "digest">;

/** What marks a logical event's window as open until it closes. */
export type WindowMarker = LogicalRef & Pick<LogicalEvent, "windowClosesAt">;

/** An open window as listed, with its logical event as it is now (gone only after a crash). */
export interface ListedWindow {
  window: WindowMarker;
  logical?: Versioned<LogicalEvent>;
}

/** What a reconcile run finds to do: due windows, and records on the pending list. */
export interface OpenWork {
  windows: ListedWindow[];
  pending: Versioned<DeliveryRecord>[];
}
