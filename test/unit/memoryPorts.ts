import {
  differingFields,
  type LogicalEvent,
  logicalKeyFor,
  withArrival,
} from "../../src/core/crossCheck";
import {
  type DeliveryRecord,
  initialPublishState,
  type NewDelivery,
} from "../../src/core/deliveryRecord";
import type { Discrepancy } from "../../src/core/discrepancy";
import type { IngestPorts } from "../../src/core/ingestDelivery";
import type {
  CrossCheckStore,
  EventStore,
  FindingStore,
  Journal,
  JournalEntry,
  Publisher,
  RecordOutcome,
  TagMemory,
} from "../../src/core/ports";
import type { RegistryEvent } from "../../src/core/registryEvent";
import type { TopicMessage } from "../../src/core/topicMessage";

/**
 * In-memory implementations of the core's ports, faithful to the Table Storage adapters'
 * documented behaviour, writing every call in order to one shared log. The real adapters are
 * tested against Azurite elsewhere.
 */
export type PortCall =
  | "store.recordDelivery"
  | "store.markPublished"
  | "store.markPublishFailed"
  | "store.markDead"
  | "store.listPending"
  | "store.claimRedrive"
  | "store.find"
  | "store.setCrossCheck"
  | "publisher.publish"
  | "crossCheck.noteArrival"
  | "crossCheck.indexArrival"
  | "crossCheck.markPublishedBy"
  | "crossCheck.dueWindows"
  | "crossCheck.claimWindow"
  | "crossCheck.arrivalsOf"
  | "crossCheck.closeWindow"
  | "tags.remember"
  | "tags.tagsOf"
  | "findings.record"
  | "journal.append"
  | "journal.drain";

export interface LoggedCall {
  call: PortCall;
  args: unknown[];
}

/** Returns the error to throw for this call, or undefined to let it succeed. */
export type Fault = (...args: unknown[]) => unknown;

export function always(error: unknown): Fault {
  return () => error;
}

export function recordKey(event: RegistryEvent): string {
  return `${event.origin}|${event.registry}|${event.eventId}`;
}

export class MemoryPorts {
  readonly log: LoggedCall[] = [];
  readonly faults: Partial<Record<PortCall, Fault>> = {};
  readonly records = new Map<string, DeliveryRecord>();
  readonly logicals = new Map<string, LogicalEvent>();
  readonly eventIndex = new Map<string, { logicalKey: string; event: RegistryEvent }>();
  readonly tagsByDigest = new Map<string, Set<string>>();
  readonly published: { topic: string; message: TopicMessage }[] = [];
  readonly findingsRecorded: Discrepancy[] = [];
  readonly journaled: JournalEntry[] = [];

  constructor(faults: Partial<Record<PortCall, Fault>> = {}) {
    Object.assign(this.faults, faults);
  }

  private enter(call: PortCall, ...args: unknown[]): void {
    this.log.push({ call, args });
    const fault = this.faults[call]?.(...args);
    if (fault !== undefined) throw fault;
  }

  calls(): PortCall[] {
    return this.log.map((entry) => entry.call);
  }

  callsOf(call: PortCall): unknown[][] {
    return this.log.filter((entry) => entry.call === call).map((entry) => entry.args);
  }

  record(event: RegistryEvent): DeliveryRecord | undefined {
    return this.records.get(recordKey(event));
  }

  private existing(event: RegistryEvent): DeliveryRecord {
    const record = this.records.get(recordKey(event));
    if (!record) throw new Error(`no record for ${recordKey(event)}`);
    return record;
  }

  readonly store: EventStore = {
    recordDelivery: async (delivery: NewDelivery): Promise<RecordOutcome> => {
      this.enter("store.recordDelivery", delivery);
      const arrival = {
        receivedAt: new Date(delivery.receivedAt).toISOString(),
        region: delivery.event.region,
        status: 200,
      };
      const existing = this.records.get(recordKey(delivery.event));
      if (existing) {
        existing.deliveryCount += 1;
        existing.arrivals.push(arrival);
        return { kind: "duplicate", record: { ...existing } };
      }
      const record: DeliveryRecord = {
        ...delivery,
        publishState: initialPublishState(delivery.route, delivery.event.origin),
        deliveryCount: 1,
        arrivals: [arrival],
        publishedTopics: [],
        publishAttempts: 0,
      };
      this.records.set(recordKey(delivery.event), record);
      return { kind: "created", record: { ...record } };
    },
    markPublished: async (event, topic) => {
      this.enter("store.markPublished", event, topic);
      const record = this.existing(event);
      record.publishState = "published";
      record.publishedTopics = [...new Set([...record.publishedTopics, topic])];
      record.publishAttempts += 1;
      record.lastError = undefined;
    },
    markPublishFailed: async (event, error, at, occurrence) => {
      this.enter("store.markPublishFailed", event, error, at);
      const record = this.existing(event);
      record.publishAttempts += 1;
      record.lastAttemptAt = at;
      record.lastError = error;
      record.occurrence = occurrence ?? record.occurrence;
    },
    markDead: async (event, error) => {
      this.enter("store.markDead", event, error);
      const record = this.existing(event);
      record.publishState = "dead";
      record.lastError = error;
    },
    listPending: async (limit, isDue) => {
      this.enter("store.listPending", limit);
      return [...this.records.values()]
        .filter((record) => record.publishState === "pending" && isDue({ ...record }))
        .slice(0, limit)
        .map((record) => ({ ...record }));
    },
    claimRedrive: async (event, now, isDue) => {
      this.enter("store.claimRedrive", event, now);
      const record = this.records.get(recordKey(event));
      if (record?.publishState !== "pending" || !isDue({ ...record })) return undefined;
      record.lastAttemptAt = now;
      return { ...record };
    },
    find: async (event) => {
      this.enter("store.find", event);
      const record = this.records.get(recordKey(event));
      return record && { ...record };
    },
    setCrossCheck: async (event, state) => {
      this.enter("store.setCrossCheck", event, state);
      this.existing(event).crossCheck = state;
    },
  };

  readonly publisher: Publisher = {
    publish: async (topic, message) => {
      this.enter("publisher.publish", topic, message);
      this.published.push({ topic, message });
    },
  };

  readonly crossCheck: CrossCheckStore = {
    noteArrival: async (event, arrivedAt, windowMs) => {
      this.enter("crossCheck.noteArrival", event, arrivedAt, windowMs);
      const key = logicalKeyFor(event);
      let logical = withArrival(this.logicals.get(key), event, arrivedAt, windowMs);
      this.logicals.set(key, logical);
      this.eventIndex.set(`${event.origin}|${event.eventId}`, { logicalKey: key, event });
      const other = event.origin === "webhook" ? "eventgrid" : "webhook";
      const twin = this.eventIndex.get(`${other}|${event.eventId}`);
      if (twin && twin.logicalKey !== key && differingFields(event, twin.event).length > 0) {
        this.flagMismatch(twin.logicalKey, event.eventId);
        logical = this.flagMismatch(key, event.eventId);
      }
      return structuredClone(logical);
    },
    indexArrival: async (event) => {
      this.enter("crossCheck.indexArrival", event);
      this.eventIndex.set(`${event.origin}|${event.eventId}`, {
        logicalKey: logicalKeyFor(event),
        event,
      });
    },
    markPublishedBy: async (key, origin, occurrence) => {
      this.enter("crossCheck.markPublishedBy", key, origin);
      const logical = this.logicals.get(key);
      if (logical && !logical.publishedBy && (logical.occurrence ?? 1) === occurrence)
        this.logicals.set(key, { ...logical, publishedBy: origin });
    },
    dueWindows: async (now, limit) => {
      this.enter("crossCheck.dueWindows", now, limit);
      return [...this.logicals.values()]
        .filter((logical) => logical.state === "open" && logical.windowClosesAt <= now)
        .slice(0, limit)
        .map((logical) => structuredClone(logical));
    },
    claimWindow: async (logical, now, leaseMs) => {
      this.enter("crossCheck.claimWindow", logical, now, leaseMs);
      const current = this.logicals.get(logical.key);
      if (current?.state !== "open" || (current.closingUntil ?? 0) > now) return false;
      this.logicals.set(logical.key, {
        ...current,
        closingUntil: now + leaseMs,
        closeAttempts: (current.closeAttempts ?? 0) + 1,
      });
      return true;
    },
    arrivalsOf: async (logical, origin) => {
      this.enter("crossCheck.arrivalsOf", logical, origin);
      const side = origin === "webhook" ? logical.webhook : logical.eventGrid;
      return (side?.eventIds ?? []).flatMap((eventId) => {
        const indexed = this.eventIndex.get(`${origin}|${eventId}`);
        return indexed ? [indexed.event] : [];
      });
    },
    closeWindow: async (logical, state) => {
      this.enter("crossCheck.closeWindow", logical, state);
      const current = this.logicals.get(logical.key);
      if (current) this.logicals.set(logical.key, { ...current, state });
    },
  };

  readonly tags: TagMemory = {
    remember: async (event) => {
      this.enter("tags.remember", event);
      if (!event.digest || !event.tag) return;
      const key = digestKey(event);
      const tags = this.tagsByDigest.get(key) ?? new Set<string>();
      tags.add(event.tag);
      this.tagsByDigest.set(key, tags);
    },
    tagsOf: async (event) => {
      this.enter("tags.tagsOf", event);
      if (!event.digest) return [];
      return [...(this.tagsByDigest.get(digestKey(event)) ?? [])].sort();
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
    drain: async (restore, limit) => {
      this.enter("journal.drain", limit);
      let restored = 0;
      for (const entry of this.journaled.splice(0, limit)) {
        try {
          await restore(entry);
          restored++;
        } catch {
          this.journaled.push(entry);
        }
      }
      return restored;
    },
  };

  /** These ports as ingestDelivery takes them, with the cross-check window it notes arrivals in. */
  ingestPorts(windowMs: number): IngestPorts {
    return {
      store: this.store,
      publisher: this.publisher,
      crossCheck: this.crossCheck,
      tags: this.tags,
      journal: this.journal,
      windowMs,
    };
  }

  /** Seeds a logical event (and its arrivals' index entries) as the cross-check store holds it. */
  seedLogical(logical: LogicalEvent, arrivals: RegistryEvent[] = []): void {
    this.logicals.set(logical.key, structuredClone(logical));
    for (const event of arrivals) {
      this.eventIndex.set(`${event.origin}|${event.eventId}`, { logicalKey: logical.key, event });
    }
  }

  /** Seeds a delivery record as the event store holds it. */
  seedRecord(record: DeliveryRecord): void {
    this.records.set(recordKey(record.event), structuredClone(record));
  }

  private flagMismatch(key: string, eventId: string): LogicalEvent {
    const current = this.logicals.get(key) as LogicalEvent;
    const updated = current.mismatchedIds.includes(eventId)
      ? current
      : { ...current, mismatchedIds: [...current.mismatchedIds, eventId] };
    this.logicals.set(key, updated);
    return updated;
  }
}

function digestKey(event: RegistryEvent): string {
  return `${event.registry}|${event.repository ?? ""}|${event.digest}`;
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
