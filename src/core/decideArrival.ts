import { artifactTypeOf, classifyArtifact, patchBaseTag } from "./artifactKind";
import {
  awaitsResolution,
  deletesDigest,
  differingFields,
  indexedById,
  isWaiting,
  keepsQuarantine,
  type LogicalEvent,
  logicalKeyFor,
  occurrenceOf,
  publishedBy,
  waitsForTwin,
  withArrival,
} from "./crossCheck";
import {
  type DeliveryRecord,
  isPending,
  type NewDelivery,
  newRecord,
  publishedStatus,
  publishFailedStatus,
  withRepeatArrival,
} from "./deliveryRecord";
import type { EventOrigin, RegistryEvent } from "./registryEvent";
import { type TopicMessage, topicMessageFor } from "./topicMessage";
import type { ArrivalState, Change, DigestRef, TagRef, Versioned } from "./writePlan";

/** A message to send once the arrival's changes are durable. */
export interface PlannedPublish {
  topic: string;
  message: TopicMessage;
}

/** Everything one arrival changes, decided before anything is written. */
export interface ArrivalDecision {
  duplicate: boolean;
  /** The arrival's record as the changes leave it. */
  record: DeliveryRecord;
  logical?: LogicalEvent;
  changes: Change[];
  publish?: PlannedPublish;
  /** The logical event was already on its topic, put there by another arrival. */
  coveredBy?: EventOrigin;
  /**
   * The arrival's event id and origin were recorded with other content (these fields differ): it
   * is not a repeat, and nothing is written for it.
   */
  conflictingFields?: string[];
}

/**
 * Whether an arrival is decided on its logical event as stored. A webhook of new content is not:
 * it is decided as the first of its kind, and the write fails if it was not. An Event Grid
 * arrival usually joins its webhook's event. (A push with a patch-like tag still reads whether its
 * base tag was pushed: see `patchBaseOf`. A delete's tags are not part of the decision: its
 * message gets them after, see `withKnownTags`.)
 */
export function readsLogicalFirst(event: RegistryEvent): boolean {
  return event.origin !== "webhook";
}

/** The digest whose pushed tags a delete's message carries. */
export function digestOf(event: RegistryEvent): DigestRef | undefined {
  return deletesDigest(event) ? { ...tagRepository(event), digest: event.digest } : undefined;
}

/** The tag a pushed tag would be a Continuous Patching patch of, to look up before deciding. */
export function patchBaseOf(event: RegistryEvent): TagRef | undefined {
  const base = event.action === "push" ? patchBaseTag(event.tag) : undefined;
  return base === undefined ? undefined : { ...tagRepository(event), tag: base };
}

function tagRepository({ registry, repository }: RegistryEvent): Omit<TagRef, "tag"> {
  return { registry, repository };
}

/** A push whose base tag was pushed before is a patch, when its media type makes it an image. */
function withPatchKind(event: RegistryEvent, baseTagSeen: boolean | undefined): RegistryEvent {
  if (baseTagSeen !== true) return event;
  const { action, tag, mediaType, payload } = event;
  const artifactType = artifactTypeOf(payload);
  const { artifactKind } = classifyArtifact({ action, tag, mediaType, artifactType, baseTagSeen });
  return artifactKind === "patch" ? { ...event, artifactKind } : event;
}

/**
 * Decides what an arrival changes: its record (or, for a repeat, the count on the record it
 * repeats), its logical event with the window and the occurrence, the pending marker, and what to
 * publish. `state` undefined means nothing was read: the arrival is decided as new content. A
 * window it opens waits for the twin from `windowOpensAt`: a webhook journaled while the store was
 * down is decided when it is restored, and its twin, refused meanwhile, is only coming now.
 */
export function decideArrival(
  delivery: NewDelivery,
  state: ArrivalState | undefined,
  windowMs: number,
  windowOpensAt = delivery.receivedAt,
): ArrivalDecision {
  const { route } = delivery;
  const event = withPatchKind(delivery.event, state?.baseTagSeen);
  const key = logicalKeyFor(event);
  const current = state?.own;
  const joined = logicalJoined(event, current?.value, delivery.receivedAt, windowMs, windowOpensAt);

  if (state?.recorded) {
    const conflictingFields = differingFields(state.recorded.value.event, event);
    if (conflictingFields.length > 0) {
      return { duplicate: false, record: state.recorded.value, changes: [], conflictingFields };
    }
    const record = withRepeatArrival(state.recorded.value, delivery);
    const changes: Change[] = [
      { kind: "replace-record", record, version: state.recorded.version },
      ...logicalChanges(joined, current),
    ];
    return { duplicate: true, record, logical: joined, changes };
  }

  const occurrence = joined && occurrenceOf(joined);
  const coveredBy = publishedBy(joined);
  let record = newRecord({ ...delivery, event }, occurrence);
  let logical = joined;
  let publish: PlannedPublish | undefined;
  if (isPending(record) && route.kind === "topic") {
    if (coveredBy) {
      record = { ...record, publishState: "published", publishedTopics: [route.topic] };
    } else {
      publish = { topic: route.topic, message: topicMessageFor(event, [], occurrence) };
      // This arrival publishes the occurrence; until it has, its record is pending and the
      // re-drive finishes it, so no other arrival publishes it again.
      if (logical) {
        logical = { ...logical, publication: { by: event.origin, occurrence: occurrence ?? 1 } };
      }
    }
  }
  const changes: Change[] = [
    ...(indexedById(event.origin) ? [{ kind: "index-id", record } as const] : []),
    { kind: "create-record", record },
    { kind: "index-arrival", record, logicalKey: key },
    ...logicalChanges(logical, current),
  ];
  if (onPendingList(record)) changes.push({ kind: "add-pending", record });
  if (event.action === "push" && event.tag) {
    changes.push({ kind: "note-tag", tag: { ...tagRepository(event), tag: event.tag } });
    if (event.digest) {
      const digest = { ...tagRepository(event), digest: event.digest };
      changes.push({ kind: "note-digest-tag", digest, tag: event.tag });
    }
  }
  return { duplicate: false, record, logical, changes, publish, coveredBy };
}

/** The logical event the arrival joins (or starts), for events with a twin and for quarantines. */
function logicalJoined(
  event: RegistryEvent,
  current: LogicalEvent | undefined,
  arrivedAt: number,
  windowMs: number,
  windowOpensAt: number,
): LogicalEvent | undefined {
  if (!waitsForTwin(event) && !keepsQuarantine(event)) return undefined;
  const joined = withArrival(current, event, arrivedAt, windowMs, windowOpensAt);
  return waitsForTwin(event) ? joined : { ...joined, state: "no-twin" };
}

/**
 * The logical event as the arrival leaves it, and a window marker when it opened a window or
 * turned a finding into a late match (the reconcile then resolves the finding).
 */
function logicalChanges(
  logical: LogicalEvent | undefined,
  current: Versioned<LogicalEvent> | undefined,
): Change[] {
  if (!logical) return [];
  const changes: Change[] = [
    current
      ? { kind: "replace-logical", logical, version: current.version }
      : { kind: "create-logical", logical },
  ];
  const opened =
    logical.state === "open" && logical.windowClosesAt !== current?.value.windowClosesAt;
  const becameLate = awaitsResolution(logical) && !(current && awaitsResolution(current.value));
  if (opened || becameLate) changes.push({ kind: "open-window", window: logical });
  // A window moved within its occurrence (a quarantined push released by its webhook) leaves no
  // marker behind; a new occurrence's leaves the old one for the reconcile to drop.
  const sameOccurrence = current && occurrenceOf(current.value) === occurrenceOf(logical);
  if (opened && sameOccurrence && isWaiting(current.value)) {
    changes.push({ kind: "close-window", window: current.value });
  }
  return changes;
}

/**
 * Whether a pending record has a marker on the pending list. A first attempt of an event with a
 * window has none: if it is never marked published (a crash), the window's close puts it there.
 * Every failed or re-driven attempt has one.
 */
export function onPendingList(record: DeliveryRecord): boolean {
  if (!isPending(record)) return false;
  return !waitsForTwin(record.event) || record.lastAttemptAt !== undefined;
}

/** After a publish: the record is published, and off the pending list if it was on it. */
export function publishedChanges(
  record: DeliveryRecord,
  publish: PlannedPublish,
  at: number,
): Change[] {
  const status = publishedStatus(record, attemptTarget(publish), at);
  const changes: Change[] = [{ kind: "set-record-status", record, status }];
  if (onPendingList(record)) changes.push({ kind: "remove-pending", record });
  return changes;
}

/** After a failed publish: the attempt is counted and the record waits on the pending list. */
export function publishFailedChanges(
  record: DeliveryRecord,
  publish: PlannedPublish,
  error: string,
  at: number,
): Change[] {
  const status = publishFailedStatus(record, attemptTarget(publish), error, at);
  return [
    { kind: "set-record-status", record, status },
    { kind: "add-pending", record: { ...record, ...status } },
  ];
}

function attemptTarget({ topic, message }: PlannedPublish) {
  return { topic, messageId: message.messageId };
}
