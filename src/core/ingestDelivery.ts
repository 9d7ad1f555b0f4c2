import type { NewDelivery, PublishState } from "./deliveryRecord";
import type { EventStore, Publisher } from "./ports";
import { topicMessageFor } from "./topicMessage";

export interface IngestResult {
  eventId: string;
  action: string;
  duplicate: boolean;
  deliveryCount: number;
  publishState: PublishState;
  topic?: string;
  notRoutedReason?: string;
  publishError?: string;
  /** Bookkeeping that failed after the outcome was settled; the re-drive will repair it. */
  warnings: string[];
}

/**
 * Record first, then publish, then mark published. A publish failure leaves the record pending
 * for the re-drive and does not fail the delivery: the record is what makes it safe to answer 200.
 * A store failure propagates (the caller answers 503: nothing was kept).
 */
export async function ingestDelivery(
  delivery: NewDelivery,
  store: EventStore,
  publisher: Publisher,
): Promise<IngestResult> {
  const outcome = await store.recordDelivery(delivery);
  const { record } = outcome;
  const result: IngestResult = {
    eventId: record.event.eventId,
    action: record.event.action,
    duplicate: outcome.kind === "duplicate",
    deliveryCount: record.deliveryCount,
    publishState: record.publishState,
    topic: record.route.kind === "topic" ? record.route.topic : undefined,
    notRoutedReason: record.route.kind === "not-routed" ? record.route.reason : undefined,
    warnings: [],
  };
  if (outcome.kind === "duplicate" || delivery.route.kind !== "topic") return result;

  const topic = delivery.route.topic;
  try {
    await publisher.publish(topic, topicMessageFor(delivery.event));
  } catch (error) {
    const reason = describeError(error);
    const warnings = await settle(store.markPublishFailed(delivery.event, reason));
    return { ...result, publishError: reason, warnings };
  }
  const warnings = await settle(store.markPublished(delivery.event, topic));
  return { ...result, publishState: "published", warnings };
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function settle(bookkeeping: Promise<void>): Promise<string[]> {
  try {
    await bookkeeping;
    return [];
  } catch (error) {
    return [describeError(error)];
  }
}
