import type { DeliveryRecord, NewDelivery } from "./deliveryRecord";
import type { RegistryEvent } from "./registryEvent";
import type { TopicMessage } from "./topicMessage";

export type RecordOutcome =
  | { kind: "created"; record: DeliveryRecord }
  | { kind: "duplicate"; record: DeliveryRecord };

/** Durable record of every delivery; implemented on Table Storage in adapters/. */
export interface EventStore {
  /** Idempotent on the event: a repeat delivery counts an arrival and creates nothing. */
  recordDelivery(delivery: NewDelivery): Promise<RecordOutcome>;
  markPublished(event: RegistryEvent, topic: string): Promise<void>;
  markPublishFailed(event: RegistryEvent, error: string): Promise<void>;
  listPending(limit: number): Promise<DeliveryRecord[]>;
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
