import {
  expectsTwin,
  type LogicalEvent,
  logicalKeyFor,
  logicalRefFor,
  occurrenceOf,
  publishedBy,
  tagsPushedFor,
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
import type { ArrivalState, Change } from "./writePlan";

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
}

/**
 * Whether an arrival's decision needs what the store knows before the first write. A webhook of
 * new content does not: it is decided as the first of its kind, and the write fails if it was not.
 * A delete needs the tags of its digest; an Event Grid arrival usually joins its webhook's event.
 */
export function needsStateFirst(event: RegistryEvent): boolean {
  return event.origin !== "webhook" || (event.action === "delete" && event.digest !== undefined);
}

/**
 * Decides what an arrival changes: its record (or, for a repeat, the count on the record it
 * repeats), its logical event with the window and the occurrence, the pending marker, and what to
 * publish. `state` undefined means nothing was read: the arrival is decided as new content.
 */
export function decideArrival(
  delivery: NewDelivery,
  state: ArrivalState | undefined,
  windowMs: number,
): ArrivalDecision {
  const { event, route } = delivery;
  const key = logicalKeyFor(event);
  const current = state?.related.find((logical) => logical.value.key === key);
  const changes: Change[] = [];
  let logical: LogicalEvent | undefined;
  if (expectsTwin(event.action)) {
    logical = withArrival(current?.value, event, delivery.receivedAt, windowMs);
    changes.push(
      current
        ? { kind: "replace-logical", logical, version: current.version }
        : { kind: "create-logical", logical },
    );
    if (logical.windowClosesAt !== current?.value.windowClosesAt) {
      changes.push({ kind: "open-window", window: logical });
    }
  }

  if (state?.recorded) {
    const record = withRepeatArrival(state.recorded.value, delivery);
    changes.unshift({ kind: "replace-record", record, version: state.recorded.version });
    return { duplicate: true, record, logical, changes };
  }

  const occurrence = logical && occurrenceOf(logical);
  const coveredBy = publishedBy(logical);
  let record = newRecord(delivery, occurrence);
  let publish: PlannedPublish | undefined;
  if (isPending(record) && route.kind === "topic") {
    if (coveredBy) {
      record = { ...record, publishState: "published", publishedTopics: [route.topic] };
    } else {
      const tags = tagsPushedFor(event, state?.related.map((related) => related.value) ?? []);
      publish = { topic: route.topic, message: topicMessageFor(event, tags, occurrence) };
    }
  }
  changes.unshift(
    { kind: "create-record", record },
    { kind: "index-arrival", event, logicalKey: key },
  );
  if (isPending(record)) changes.push({ kind: "add-pending", record });
  return { duplicate: false, record, logical, changes, publish, coveredBy };
}

/** After a publish: the record is published and off the pending list, the occurrence covered. */
export function publishedChanges(
  record: DeliveryRecord,
  topic: string,
  occurrence: number | undefined,
): Change[] {
  const changes: Change[] = [
    { kind: "set-record-status", record, status: publishedStatus(record, topic) },
    { kind: "remove-pending", record },
  ];
  if (expectsTwin(record.event.action)) {
    changes.push({
      kind: "set-publication",
      logical: logicalRefFor(record.event),
      publication: { by: record.event.origin, occurrence: occurrence ?? 1 },
    });
  }
  return changes;
}

/** After a failed publish: the attempt is counted and the record stays pending for the re-drive. */
export function publishFailedChanges(record: DeliveryRecord, error: string, at: number): Change[] {
  return [{ kind: "set-record-status", record, status: publishFailedStatus(record, error, at) }];
}
