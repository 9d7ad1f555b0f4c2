import { expectsTwin, type LogicalEvent, logicalKeyFor, occurrenceOf } from "./crossCheck";
import type { NewDelivery, PublishState } from "./deliveryRecord";
import {
  type CrossCheckStore,
  DependencyUnavailableError,
  type EventStore,
  type Journal,
  type JournalEntry,
  type Publisher,
  type RecordOutcome,
  type TagMemory,
} from "./ports";
import type { RegistryEvent } from "./registryEvent";
import { topicMessageFor } from "./topicMessage";

export interface IngestPorts {
  store: EventStore;
  publisher: Publisher;
  crossCheck: CrossCheckStore;
  tags: TagMemory;
  journal: Journal;
  /** How long a logical event waits for its twin before the cross-check closes it. */
  windowMs: number;
}

export interface IngestResult {
  eventId: string;
  action: string;
  duplicate: boolean;
  deliveryCount: number;
  publishState: PublishState;
  topic?: string;
  notRoutedReason?: string;
  publishError?: string;
  /** The logical event was already on its topic, put there by another arrival. */
  coveredBy?: string;
  /** Table Storage was down: the delivery waits on the journal to be recorded. */
  journaled?: boolean;
  /** Bookkeeping that failed after the outcome was settled; the re-drive will repair it. */
  warnings: string[];
}

/**
 * Record first, then publish, then mark published. A publish failure leaves the record pending
 * for the re-drive and does not fail the delivery: the record is what makes it safe to answer 200.
 * A store failure propagates (the caller answers 503: nothing was kept). Event Grid arrivals are
 * held: the cross-check publishes one only when its webhook never came.
 */
export async function ingestDelivery(
  delivery: NewDelivery,
  ports: IngestPorts,
): Promise<IngestResult> {
  const { event, route } = delivery;
  let outcome: RecordOutcome;
  try {
    outcome = await ports.store.recordDelivery(delivery);
  } catch (error) {
    // Event Grid retries for 24 h, so it simply gets its 503; a webhook is never retried.
    if (!(error instanceof DependencyUnavailableError) || event.origin === "eventgrid") throw error;
    return journalDelivery(delivery, ports, error);
  }
  const { record } = outcome;
  const warnings: string[] = [];
  const result: IngestResult = {
    eventId: event.eventId,
    action: event.action,
    duplicate: outcome.kind === "duplicate",
    deliveryCount: record.deliveryCount,
    publishState: record.publishState,
    topic: route.kind === "topic" ? route.topic : undefined,
    notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
    warnings,
  };

  const logical = await noteArrival(event, delivery.receivedAt, ports, warnings);
  if (outcome.kind === "duplicate" || route.kind !== "topic" || event.origin === "eventgrid") {
    return result;
  }

  if (logical?.publishedBy) {
    warnings.push(...(await settle(ports.store.markPublished(event, route.topic))));
    return { ...result, publishState: "published", coveredBy: logical.publishedBy };
  }
  const published = await publishEvent(
    event,
    route.topic,
    ports,
    Date.now(),
    occurrenceOf(logical),
  );
  warnings.push(...published.warnings);
  return published.ok
    ? { ...result, publishState: "published" }
    : { ...result, publishError: published.error };
}

/**
 * Table Storage is down and ACR will not retry: publish first, and keep the delivery on the
 * Service Bus journal so the reconcile records it once storage is back. Only when neither the
 * topic nor the journal took it is nothing durable, and the storage error propagates (503).
 */
async function journalDelivery(
  delivery: NewDelivery,
  ports: IngestPorts,
  storageError: DependencyUnavailableError,
): Promise<IngestResult> {
  const { event, route } = delivery;
  let published = false;
  const warnings = [describeError(storageError)];
  if (route.kind === "topic") {
    try {
      await ports.publisher.publish(route.topic, topicMessageFor(event));
      published = true;
    } catch (error) {
      warnings.push(describeError(error));
    }
  }
  try {
    await ports.journal.append({ delivery, published });
  } catch (error) {
    if (!published) throw storageError;
    warnings.push(
      `journal: ${describeError(error)}; the message is on its topic, its record is lost`,
    );
  }
  return {
    eventId: event.eventId,
    action: event.action,
    duplicate: false,
    deliveryCount: 1,
    publishState: route.kind !== "topic" ? "not-routed" : published ? "published" : "pending",
    topic: route.kind === "topic" ? route.topic : undefined,
    notRoutedReason: route.kind === "not-routed" ? route.reason : undefined,
    journaled: true,
    warnings,
  };
}

/** Records a journaled delivery now that storage is back, as if it had been recorded on arrival. */
export async function restoreJournaled(entry: JournalEntry, ports: IngestPorts): Promise<void> {
  const { delivery, published } = entry;
  const { event, route } = delivery;
  const outcome = await ports.store.recordDelivery(delivery);
  const logical = await noteArrival(event, delivery.receivedAt, ports, []);
  if (outcome.kind === "duplicate" || route.kind !== "topic" || !published) return;
  await ports.store.markPublished(event, route.topic);
  if (logical) {
    await ports.crossCheck.markPublishedBy(logical.key, event.origin, occurrenceOf(logical));
  }
}

/**
 * Event Grid retries what fails, so its arrival must reach the cross-check or fail the call; a
 * webhook is never retried, so a cross-check failure there only warns (the record is safe).
 */
async function noteArrival(
  event: RegistryEvent,
  arrivedAt: number,
  ports: IngestPorts,
  warnings: string[],
): Promise<LogicalEvent | undefined> {
  // Each step on its own: a tag memory failure must not keep a webhook from the cross-check.
  const guarded = async <T>(step: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await step();
    } catch (error) {
      if (event.origin === "eventgrid") throw error;
      warnings.push(describeError(error));
      return undefined;
    }
  };
  if (!expectsTwin(event.action)) {
    // Still findable by its id (`GET /api/events/{id}`), though it has no twin to wait for.
    await guarded(() => ports.crossCheck.indexArrival(event));
    return undefined;
  }
  if (event.action === "push" && event.tag && event.digest) {
    await guarded(() => ports.tags.remember(event));
  }
  return guarded(() => ports.crossCheck.noteArrival(event, arrivedAt, ports.windowMs));
}

export type PublishOutcome =
  | { ok: true; warnings: string[] }
  | { ok: false; error: string; warnings: string[] };

/** Publishes one recorded event to its topic and books the outcome on the record and its logical event. */
export async function publishEvent(
  event: RegistryEvent,
  topic: string,
  ports: Pick<IngestPorts, "store" | "publisher" | "crossCheck" | "tags">,
  now: number = Date.now(),
  occurrence = 1,
): Promise<PublishOutcome> {
  const lookup = event.action === "delete" && event.digest ? ports.tags.tagsOf(event) : [];
  // The tags only enrich a delete: a failed lookup must not hold the delete back.
  const tags = await Promise.resolve(lookup).catch(() => []);
  try {
    await ports.publisher.publish(topic, topicMessageFor(event, tags, occurrence));
  } catch (error) {
    const reason = describeError(error);
    return {
      ok: false,
      error: reason,
      warnings: await settle(ports.store.markPublishFailed(event, reason, now, occurrence)),
    };
  }
  const warnings = await settle(ports.store.markPublished(event, topic));
  if (expectsTwin(event.action)) {
    const marked = ports.crossCheck.markPublishedBy(logicalKeyFor(event), event.origin, occurrence);
    warnings.push(...(await settle(marked)));
  }
  return { ok: true, warnings };
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function settle(bookkeeping: Promise<unknown>): Promise<string[]> {
  try {
    await bookkeeping;
    return [];
  } catch (error) {
    return [describeError(error)];
  }
}
