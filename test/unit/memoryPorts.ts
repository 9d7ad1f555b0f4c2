import { type LogicalEvent, logicalRefFor } from "../../src/core/crossCheck";
import type { DeliveryRecord, NewDelivery } from "../../src/core/deliveryRecord";
import { describeError } from "../../src/core/describeError";
import type { Discrepancy } from "../../src/core/discrepancy";
import type { IngestPorts } from "../../src/core/ingestDelivery";
import {
  type EventStore,
  type FindingStore,
  isJournaledDelivery,
  type Journal,
  type JournalEntry,
  type JournaledDelivery,
  type OutageLog,
  type Publisher,
} from "../../src/core/ports";
import type { ReconcilePorts } from "../../src/core/reconcile";
import type { EventOrigin, RegistryEvent } from "../../src/core/registryEvent";
import { DONE } from "../../src/core/result";
import type { Route } from "../../src/core/routing";
import type { StoreOutage } from "../../src/core/storeOutage";
import type { TopicMessage } from "../../src/core/topicMessage";
import type {
  Change,
  DigestRef,
  ListedWindow,
  LogicalRef,
  TagRef,
  Versioned,
  WindowMarker,
  WriteOutcome,
} from "../../src/core/writePlan";

/**
 * In-memory doubles of the core's ports. The event store is storage only, with the semantics of
 * the Table adapter: a `create-*` fails if the entity exists, a versioned change fails if the
 * version moved on (or the entity is gone), `set-*` overwrite only their fields of an existing
 * entity, `close-window` and `remove-pending` delete if present, `note-tag` and `index-id` add to a
 * set, and a write is all or nothing.
 * Every call is written in order to one shared log; faults can be injected per call. The real
 * adapters are tested against Azurite elsewhere.
 */
export type PortCall =
  | "store.relatedLogicals"
  | "store.logicalOf"
  | "store.recordOf"
  | "store.tagSeen"
  | "store.digestTags"
  | "store.write"
  | "store.openWork"
  | "store.arrivalsOf"
  | "store.arrivalsById"
  | "store.arrivalsIndexedById"
  | "publisher.publish"
  | "findings.record"
  | "journal.append"
  | "journal.drain"
  | "outages.read"
  | "outages.write";

export interface LoggedCall {
  call: PortCall;
  args: unknown[];
  /** What a `store.write` answered, once it did without throwing. */
  outcome?: WriteOutcome;
}

/** Returns the error to throw for this call, or undefined to let it succeed. */
export type Fault = (...args: unknown[]) => unknown;

export function always(error: unknown): Fault {
  return () => error;
}

/** A `store.write` fault: fails the writes holding a change that `matches`, nothing else. */
export function writing(matches: (change: Change) => boolean, error: unknown): Fault {
  return (changes) => ((changes as Change[]).some(matches) ? error : undefined);
}

/** A write's change kinds, for asserting what one write held. */
export function kindsOf(changes: readonly Change[]): Change["kind"][] {
  return changes.map((change) => change.kind);
}

interface IndexEntry {
  recordId: string;
  eventId: string;
  origin: EventOrigin;
}

const id = (...parts: (string | number | undefined)[]) =>
  JSON.stringify(parts.map((part) => part ?? ""));

function recordId(event: RegistryEvent): string {
  return id(event.registry, event.repository, event.eventId, event.origin);
}

function logicalId(logical: LogicalRef): string {
  return id(logical.registry, logical.repository, logical.digest, logical.key);
}

function tagId(tag: TagRef): string {
  return id(tag.registry, tag.repository, tag.tag);
}

function digestId(digest: DigestRef): string {
  return id(digest.registry, digest.repository, digest.digest);
}

function windowId(window: WindowMarker): string {
  return id(window.registry, window.repository, window.windowClosesAt, window.key);
}

/** Sorts oldest first across registries and repositories, as the pending list reads. */
function pendingId(record: DeliveryRecord): string {
  const { event } = record;
  const receivedAt = String(record.receivedAt).padStart(13, "0");
  return id(receivedAt, event.eventId, event.origin, event.registry, event.repository);
}

/** An event id and origin, whatever the content. */
function idOf(event: RegistryEvent): string {
  return id(event.eventId, event.origin);
}

/** Which stored entity a change writes: no write may change one twice (as in a Table batch). */
function entityOf(change: Change): string {
  switch (change.kind) {
    case "create-record":
    case "replace-record":
    case "set-record-status":
      return `record ${recordId(change.record.event)}`;
    case "index-arrival":
      return `index ${recordId(change.record.event)}`;
    case "index-id":
      return `id ${idOf(change.record.event)}`;
    case "create-logical":
    case "replace-logical":
    case "set-publication":
      return `logical ${logicalId(change.logical)}`;
    case "open-window":
    case "close-window":
      return `window ${windowId(change.window)}`;
    case "log-verdict":
      return `verdict ${id(change.logical.firstSeenAt, change.logical.key)}`;
    case "add-pending":
    case "remove-pending":
      return `pending ${pendingId(change.record)}`;
    case "note-tag":
      return `tag ${tagId(change.tag)}`;
    case "note-digest-tag":
      return `digest ${digestId(change.digest)}`;
  }
}

export class MemoryPorts {
  readonly log: LoggedCall[] = [];
  readonly faults: Partial<Record<PortCall, Fault>> = {};
  readonly records = new Map<string, Versioned<DeliveryRecord>>();
  readonly index = new Map<string, IndexEntry>();
  /** Records listed under an event id and origin by `index-id`. */
  readonly idIndex = new Map<string, Set<string>>();
  readonly logicals = new Map<string, Versioned<LogicalEvent>>();
  readonly windows = new Map<string, WindowMarker>();
  /** Pending list entries, each naming its record. */
  readonly pending = new Map<string, string>();
  /** Tags noted as pushed, by registry, repository and tag. */
  readonly tags = new Set<string>();
  /** Tags noted as pushed with a digest, by registry, repository and digest. */
  readonly digestTagSets = new Map<string, Set<string>>();
  readonly verdicts = new Map<string, { logical: LogicalEvent; state: string }>();
  readonly published: { topic: string; message: TopicMessage }[] = [];
  readonly findingsRecorded: Discrepancy[] = [];
  readonly journaled: JournalEntry[] = [];
  /** The journal's dead-letter queue: entries set aside, with their reasons. */
  readonly journalSetAside: { entry: JournalEntry; reason: string }[] = [];
  /** How many times each entry was handed out and not restored (the queue's delivery count). */
  private readonly journalFailures = new Map<JournalEntry, number>();
  /** The outage list as last written, with its version. */
  outagesKept?: Versioned<StoreOutage[]>;
  private version = 0;

  constructor(faults: Partial<Record<PortCall, Fault>> = {}) {
    Object.assign(this.faults, faults);
  }

  private enter(call: PortCall, ...args: unknown[]): LoggedCall {
    const entry: LoggedCall = { call, args };
    this.log.push(entry);
    const fault = this.faults[call]?.(...args);
    if (fault !== undefined) throw fault;
    return entry;
  }

  calls(): PortCall[] {
    return this.log.map((entry) => entry.call);
  }

  callsOf(call: PortCall): unknown[][] {
    return this.log.filter((entry) => entry.call === call).map((entry) => entry.args);
  }

  /** Every `store.write` call in order: what it held and what it answered (none if it threw). */
  writes(): { changes: Change[]; outcome?: WriteOutcome }[] {
    return this.log
      .filter((entry) => entry.call === "store.write")
      .map((entry) => ({ changes: entry.args[0] as Change[], outcome: entry.outcome }));
  }

  /** The deliveries on the journal, without its refusal notices. */
  journaledDeliveries(): JournaledDelivery[] {
    return this.journaled.filter(isJournaledDelivery);
  }

  /** The stored record of this arrival (event id and origin). */
  record(event: RegistryEvent): DeliveryRecord | undefined {
    return this.records.get(recordId(event))?.value;
  }

  /** The stored logical event of this arrival's content. */
  logical(event: RegistryEvent): LogicalEvent | undefined {
    return this.logicals.get(logicalId(logicalRefFor(event)))?.value;
  }

  /** The event ids of the records on the pending list, oldest first. */
  pendingEventIds(): string[] {
    return [...this.pending.entries()]
      .sort(([a], [b]) => compare(a, b))
      .map(([, record]) => this.records.get(record)?.value.event.eventId ?? `missing ${record}`);
  }

  /** Writes changes as a store write would, unlogged and fault-free: a conflict throws. */
  seed(changes: readonly Change[]): void {
    const outcome = this.apply(changes);
    if (!outcome.ok) throw new Error(`seed conflicted on ${outcome.failure}`);
  }

  readonly store: EventStore = {
    relatedLogicals: async (event) => {
      this.enter("store.relatedLogicals", event);
      if (!event.digest) {
        const own = this.logicals.get(logicalId(logicalRefFor(event)));
        return own ? [structuredClone(own)] : [];
      }
      return [...this.logicals.values()]
        .filter(
          ({ value }) =>
            value.registry === event.registry &&
            (value.repository ?? "") === (event.repository ?? "") &&
            value.digest === event.digest,
        )
        .map((logical) => structuredClone(logical));
    },
    logicalOf: async (logical) => {
      this.enter("store.logicalOf", logical);
      return this.readLogical(logical);
    },
    recordOf: async (event) => {
      this.enter("store.recordOf", event);
      const record = this.records.get(recordId(event));
      return record && structuredClone(record);
    },
    tagSeen: async (tag) => {
      this.enter("store.tagSeen", tag);
      return this.tags.has(tagId(tag));
    },
    digestTags: async (digest) => {
      this.enter("store.digestTags", digest);
      return [...(this.digestTagSets.get(digestId(digest)) ?? [])];
    },
    write: async (changes, options) => {
      const entry = this.enter("store.write", changes, ...(options ? [options] : []));
      entry.outcome = this.apply(changes);
      return entry.outcome;
    },
    openWork: async (now, limits) => {
      this.enter("store.openWork", now, limits);
      const windows = [...this.windows.values()]
        .filter((window) => window.windowClosesAt <= now)
        .sort((a, b) => a.windowClosesAt - b.windowClosesAt || compare(a.key, b.key))
        .slice(0, limits.windows)
        .map(
          (window): ListedWindow => ({
            window: structuredClone(window),
            logical: this.readLogical(window),
          }),
        );
      const pending = [...this.pending.entries()]
        .sort(([a], [b]) => compare(a, b))
        .slice(0, limits.pending)
        .flatMap(([, record]) => {
          const stored = this.records.get(record);
          return stored ? [structuredClone(stored)] : [];
        });
      return { windows, pending };
    },
    arrivalsOf: async (logical, eventIds, origin) => {
      this.enter("store.arrivalsOf", logical, eventIds, origin);
      return eventIds.flatMap((eventId) => {
        const indexed = this.index.get(id(logical.registry, logical.repository, eventId, origin));
        return indexed ? this.storedRecord(indexed.recordId) : [];
      });
    },
    arrivalsIndexedById: async (eventId, origin) => {
      this.enter("store.arrivalsIndexedById", eventId, origin);
      return [...(this.idIndex.get(id(eventId, origin)) ?? [])].flatMap((record) =>
        this.storedRecord(record),
      );
    },
    arrivalsById: async (eventId, origin) => {
      this.enter("store.arrivalsById", eventId, origin);
      return [...this.index.values()]
        .filter((indexed) => indexed.eventId === eventId && indexed.origin === origin)
        .flatMap((indexed) => this.storedRecord(indexed.recordId));
    },
  };

  readonly publisher: Publisher = {
    publish: async (topic, message) => {
      this.enter("publisher.publish", topic, message);
      this.published.push({ topic, message });
    },
  };

  readonly findings: FindingStore = {
    record: async (finding) => {
      this.enter("findings.record", finding);
      this.findingsRecorded.push(finding);
    },
  };

  readonly journal: Journal = {
    append: async (entry) => {
      this.enter("journal.append", entry);
      this.journaled.push(entry);
    },
    storeAnswered: () => {},
    drain: async (restore, limit, stop = () => false) => {
      this.enter("journal.drain", limit);
      let restored = 0;
      let setAside = 0;
      let failure: string | undefined;
      for (const entry of this.journaled.splice(0, limit)) {
        if (stop()) {
          this.journaled.unshift(entry);
          continue;
        }
        try {
          const outcome = await restore(entry, this.journalFailures.get(entry) ?? 0);
          if (outcome) {
            this.journalSetAside.push({ entry, reason: outcome.setAside });
            setAside++;
          } else restored++;
        } catch (error) {
          failure ??= describeError(error);
          this.journalFailures.set(entry, (this.journalFailures.get(entry) ?? 0) + 1);
          this.journaled.push(entry);
        }
      }
      return { restored, setAside, more: this.journaled.length > 0, failure };
    },
  };

  /** One list, replaced whole at the version it was read at (none: created). */
  readonly outages: OutageLog = {
    read: async () => {
      this.enter("outages.read");
      return this.outagesKept && structuredClone(this.outagesKept);
    },
    write: async (outages, version) => {
      this.enter("outages.write", outages, version);
      if (this.outagesKept?.version !== version) return { ok: false, failure: "changed" };
      this.outagesKept = { value: structuredClone([...outages]), version: this.nextVersion() };
      return { ok: true, value: this.outagesKept.version };
    },
  };

  /** These ports as ingestDelivery takes them, with the cross-check window it opens. */
  ingestPorts(windowMs: number): IngestPorts {
    return { store: this.store, publisher: this.publisher, journal: this.journal, windowMs };
  }

  reconcilePorts(): ReconcilePorts {
    return {
      store: this.store,
      publisher: this.publisher,
      findings: this.findings,
      journal: this.journal,
      outages: this.outages,
    };
  }

  private readLogical(logical: LogicalRef): Versioned<LogicalEvent> | undefined {
    const stored = this.logicals.get(logicalId(logical));
    return stored && structuredClone(stored);
  }

  /** The stored record, as a list of none or one. */
  private storedRecord(recordId: string): DeliveryRecord[] {
    const record = this.records.get(recordId);
    return record ? [structuredClone(record.value)] : [];
  }

  private nextVersion(): string {
    this.version += 1;
    return `v${this.version}`;
  }

  /** All or nothing: every change is checked against the stored state before any is applied. */
  private apply(changes: readonly Change[]): WriteOutcome {
    const entities = new Set<string>();
    for (const change of changes) {
      const entity = entityOf(change);
      if (entities.has(entity)) throw new Error(`one write changes ${entity} twice`);
      entities.add(entity);
    }
    const conflicting = changes.find((change) => this.conflicts(change));
    if (conflicting) return { ok: false, failure: conflicting.kind };
    for (const change of structuredClone(changes)) this.applyOne(change);
    return DONE;
  }

  private conflicts(change: Change): boolean {
    switch (change.kind) {
      case "create-record":
        return this.records.has(recordId(change.record.event));
      case "index-arrival":
        return this.index.has(recordId(change.record.event));
      case "replace-record":
        return this.records.get(recordId(change.record.event))?.version !== change.version;
      case "set-record-status":
        return !this.records.has(recordId(change.record.event));
      case "create-logical":
        return this.logicals.has(logicalId(change.logical));
      case "replace-logical":
        return this.logicals.get(logicalId(change.logical))?.version !== change.version;
      case "set-publication":
        return !this.logicals.has(logicalId(change.logical));
      default:
        return false;
    }
  }

  private applyOne(change: Change): void {
    switch (change.kind) {
      case "create-record":
      case "replace-record":
        this.records.set(recordId(change.record.event), {
          value: change.record,
          version: this.nextVersion(),
        });
        return;
      case "set-record-status": {
        const key = recordId(change.record.event);
        const stored = this.records.get(key) as Versioned<DeliveryRecord>;
        this.records.set(key, {
          value: { ...stored.value, ...change.status },
          version: this.nextVersion(),
        });
        return;
      }
      case "index-arrival": {
        const { event } = change.record;
        this.index.set(recordId(event), {
          recordId: recordId(event),
          eventId: event.eventId,
          origin: event.origin,
        });
        return;
      }
      case "index-id": {
        const key = idOf(change.record.event);
        const listed = this.idIndex.get(key) ?? new Set<string>();
        this.idIndex.set(key, listed.add(recordId(change.record.event)));
        return;
      }
      case "create-logical":
      case "replace-logical":
        this.logicals.set(logicalId(change.logical), {
          value: change.logical,
          version: this.nextVersion(),
        });
        return;
      case "set-publication": {
        const key = logicalId(change.logical);
        const stored = this.logicals.get(key) as Versioned<LogicalEvent>;
        this.logicals.set(key, {
          value: { ...stored.value, publication: change.publication },
          version: this.nextVersion(),
        });
        return;
      }
      case "open-window": {
        const { key, registry, repository, digest, windowClosesAt } = change.window;
        const marker = { key, registry, repository, digest, windowClosesAt };
        this.windows.set(windowId(marker), marker);
        return;
      }
      case "close-window":
        this.windows.delete(windowId(change.window));
        return;
      case "log-verdict":
        this.verdicts.set(entityOf(change), { logical: change.logical, state: change.state });
        return;
      case "add-pending":
        this.pending.set(pendingId(change.record), recordId(change.record.event));
        return;
      case "remove-pending":
        this.pending.delete(pendingId(change.record));
        return;
      case "note-tag":
        this.tags.add(tagId(change.tag));
        return;
      case "note-digest-tag": {
        const key = digestId(change.digest);
        this.digestTagSets.set(key, new Set([...(this.digestTagSets.get(key) ?? []), change.tag]));
        return;
      }
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const T0 = Date.parse("2023-11-17T16:52:01.343Z");

/** A push of hello-world:v1 as the webhook reports it; override any field. */
export function registryEvent(overrides: Partial<RegistryEvent> = {}): RegistryEvent {
  const eventId = overrides.eventId ?? "evt-1";
  return {
    eventId,
    action: "push",
    timestamp: "2023-11-17T16:52:01.343145347Z",
    occurredAt: T0,
    registry: "myregistry.azurecr.io",
    repository: "hello-world",
    tag: "v1",
    digest: "sha256:abc",
    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    origin: "webhook",
    payload: { id: eventId, action: overrides.action ?? "push" },
    ...overrides,
  };
}

/** An arrival of `event` as the webhook and Event Grid functions hand it to the core. */
export function deliveryOf(event: RegistryEvent, route: Route, receivedAt: number): NewDelivery {
  return {
    event,
    route,
    receivedAt,
    request: { method: "POST", uri: "https://bridge/api/acr", headers: {} },
  };
}
